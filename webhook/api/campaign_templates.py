"""Saved messages (``campaign_templates``): reusable content owners start campaigns from.

Owners write, supervisors read, agents get 403 (``core.campaigns.saved``); names are
unique (409 on a clash).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from core import campaigns as core
from core.campaigns.saved import SavedMessageFields
from webhook.api.campaign_models import CampaignFromSavedIn, CampaignOut, SavedMessageOut
from webhook.deps import CurrentActor, DbSession

router = APIRouter(prefix="/api/campaign-templates", tags=["campaign templates"])
NOT_FOUND = {404: {"description": "No such saved message"}}
CLASH = {409: {"description": "Another saved message has that name"}}


@router.get("", summary="Saved messages, by name")
def list_saved(
    session: DbSession,
    actor: CurrentActor,
    search: Annotated[str, Query(max_length=200, description="Part of the name.")] = "",
) -> list[SavedMessageOut]:
    return [SavedMessageOut.of(s) for s in core.list_saved_messages(session, actor, search=search)]


@router.post("", status_code=201, responses=CLASH, summary="Save a reusable message")
def create_saved(
    payload: SavedMessageFields, session: DbSession, actor: CurrentActor
) -> SavedMessageOut:
    saved = core.create_saved_message(session, actor, payload)
    session.commit()
    return SavedMessageOut.of(saved)


@router.get("/{saved_id}", responses=NOT_FOUND, summary="One saved message")
def get_saved(saved_id: uuid.UUID, session: DbSession, actor: CurrentActor) -> SavedMessageOut:
    return SavedMessageOut.of(core.get_saved_message(session, actor, saved_id))


@router.put("/{saved_id}", responses={**NOT_FOUND, **CLASH}, summary="Change the given fields")
def update_saved(
    saved_id: uuid.UUID, payload: SavedMessageFields, session: DbSession, actor: CurrentActor
) -> SavedMessageOut:
    saved = core.update_saved_message(session, actor, saved_id, payload)
    session.commit()
    return SavedMessageOut.of(saved)


@router.delete("/{saved_id}", status_code=204, responses=NOT_FOUND, summary="Delete it")
def delete_saved(saved_id: uuid.UUID, session: DbSession, actor: CurrentActor) -> Response:
    core.delete_saved_message(session, actor, saved_id)
    session.commit()
    return Response(status_code=204)


@router.post(
    "/{saved_id}/campaigns",
    status_code=201,
    responses=NOT_FOUND,
    summary="Start a draft campaign with this message",
)
def campaign_from_saved(
    saved_id: uuid.UUID, payload: CampaignFromSavedIn, session: DbSession, actor: CurrentActor
) -> CampaignOut:
    campaign = core.campaign_from_saved_message(
        session, actor, saved_id, name=payload.name, segment_id=payload.segment_id
    )
    session.commit()
    return CampaignOut.of(campaign)
