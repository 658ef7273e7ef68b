"""Opted-out customers: who, since when, why; and an owner opting one back in (audited)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from core import optouts
from webhook.deps import CurrentActor, DbSession

router = APIRouter(prefix="/api/opt-outs", tags=["opt-outs"])


class OptOutOut(BaseModel):
    contact_id: uuid.UUID
    name: str
    phone: str = Field(description="E.164, masked (+62812•••••890) unless your role sees it.")
    opted_out_at: datetime | None
    reason: str | None
    source: str | None = Field(description="keyword, button or meta_marketing_opt_out.")


class OptOutPageOut(BaseModel):
    items: list[OptOutOut]
    total: int
    limit: int
    offset: int
    has_more: bool


class OptInIn(BaseModel):
    reason: str = Field(
        min_length=1,
        max_length=optouts.MAX_REASON_LENGTH,
        description="Why the customer may receive broadcasts again (recorded in the audit log).",
        examples=["Asked in the store on 3 March to get promotions again"],
    )


class PreferenceOut(BaseModel):
    contact_id: uuid.UUID
    opted_out: bool
    opted_in_at: datetime | None
    opted_in_by: uuid.UUID | None
    opted_out_at: datetime | None = Field(description="When they had opted out.")
    opt_out_source: str | None


@router.get("", summary="Opted-out contacts, most recent first")
def list_opt_outs(
    session: DbSession,
    actor: CurrentActor,
    search: Annotated[
        str, Query(max_length=200, description="Part of the name (or number, if you see them).")
    ] = "",
    source: Annotated[
        str | None, Query(description="keyword, button or meta_marketing_opt_out")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Opted out at or after (ISO 8601).")
    ] = None,
    until: Annotated[datetime | None, Query(description="Opted out at or before.")] = None,
    limit: Annotated[int, Query(ge=1, le=optouts.MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> OptOutPageOut:
    page = optouts.list_opt_outs(
        session,
        actor,
        search=search,
        source=source,
        since=_aware(since),
        until=_aware(until),
        limit=limit,
        offset=offset,
    )
    return OptOutPageOut(
        items=[OptOutOut(**item.__dict__) for item in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        has_more=page.has_more,
    )


@router.post(
    "/{contact_id}/opt-in",
    summary="Opt a customer back in (owners; the reason is audited)",
    responses={404: {"description": "No such contact"}, 409: {"description": "Not opted out"}},
)
def opt_in(
    contact_id: uuid.UUID, payload: OptInIn, session: DbSession, actor: CurrentActor
) -> PreferenceOut:
    preference = optouts.opt_in_contact(session, actor, contact_id, reason=payload.reason)
    session.commit()
    return PreferenceOut(
        contact_id=preference.contact_id,
        opted_out=preference.opted_out,
        opted_in_at=preference.opted_in_at,
        opted_in_by=preference.opted_in_by,
        opted_out_at=preference.opted_out_at,
        opt_out_source=preference.opt_out_source,
    )


def _aware(moment: datetime | None) -> datetime | None:
    """Query times without a zone are taken as UTC."""
    from datetime import UTC

    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
