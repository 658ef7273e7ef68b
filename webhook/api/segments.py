"""Segments: list, create, edit, delete; preview saved or unsaved criteria; refresh; members.

Thin routes over ``core.segments`` and friends: roles and the audit record live there
(owners write, supervisors read, agents get 403). Invalid criteria are a 422 whose
``errors`` give the path of each bad part (``conditions[1].value: expected a date``).
A segment that a scheduled, running or paused campaign uses cannot be deleted (409).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from core import segments as core
from core.permissions import Permission, require
from core.segment_members import MAX_PAGE_SIZE, list_members
from core.segment_refresh import request_segment_refresh
from webhook.api.segment_models import (
    CriteriaIn,
    DeletedOut,
    HistoryOut,
    MemberPageOut,
    PreviewOut,
    RefreshOut,
    ResnapshotOut,
    SegmentChanges,
    SegmentIn,
    SegmentOut,
)
from webhook.deps import App, CurrentActor, DbSession

router = APIRouter(prefix="/api/segments", tags=["segments"])
NOT_FOUND = {404: {"description": "No such segment"}}
INVALID = {422: {"description": "Invalid criteria or fields; `errors` gives each path"}}
IN_USE = {409: {"description": "A scheduled, running or paused campaign uses it"}}


# --- collection and fixed paths (before /{segment_id}) -------------------------------------


@router.get("", summary="Every segment with its statistics, by name")
def list_segments(session: DbSession, actor: CurrentActor) -> list[SegmentOut]:
    return [SegmentOut.of(summary) for summary in core.list_segments(session, actor)]


@router.post("", status_code=201, responses=INVALID, summary="Save a segment (snapshots it)")
def create_segment(payload: SegmentIn, session: DbSession, actor: CurrentActor) -> SegmentOut:
    summary = core.create_segment(
        session,
        actor,
        name=payload.name,
        criteria=payload.criteria,
        kind=payload.kind,
        description=payload.description,
    )
    session.commit()
    return SegmentOut.of(summary)


@router.get("/criteria-schema", summary="The JSON Schema of a criteria document")
def criteria_schema(actor: CurrentActor) -> dict[str, Any]:
    require(actor, Permission.SEGMENT_READ)
    return core.criteria_json_schema()


@router.post("/preview", responses=INVALID, summary="Who unsaved criteria reach now")
def preview_criteria(payload: CriteriaIn, session: DbSession, actor: CurrentActor) -> PreviewOut:
    return PreviewOut.of(core.preview_criteria(session, actor, payload.criteria))


# --- one segment ---------------------------------------------------------------------------


@router.get("/{segment_id}", responses=NOT_FOUND, summary="One segment with its statistics")
def get_segment(segment_id: uuid.UUID, session: DbSession, actor: CurrentActor) -> SegmentOut:
    return SegmentOut.of(core.get_segment(session, actor, segment_id))


@router.put(
    "/{segment_id}",
    responses={**NOT_FOUND, **INVALID},
    summary="Change the fields sent; new criteria or kind take a new snapshot",
)
def update_segment(
    segment_id: uuid.UUID, payload: SegmentChanges, session: DbSession, actor: CurrentActor
) -> SegmentOut:
    # Fields not sent stay; so do name, kind and criteria sent as null (a description may be
    # cleared with null).
    sent = {
        name: getattr(payload, name)
        for name in payload.model_fields_set
        if getattr(payload, name) is not None or name == "description"
    }
    summary = core.update_segment(session, actor, segment_id, **sent)
    session.commit()
    return SegmentOut.of(summary)


@router.delete(
    "/{segment_id}",
    responses={**NOT_FOUND, **IN_USE},
    summary="Delete a segment no active campaign uses",
)
def delete_segment(segment_id: uuid.UUID, session: DbSession, actor: CurrentActor) -> DeletedOut:
    deleted = core.delete_segment(session, actor, segment_id)
    session.commit()
    return DeletedOut(name=deleted.name, detached_campaigns=list(deleted.detached_campaigns))


@router.post("/{segment_id}/preview", responses=NOT_FOUND, summary="Who the segment reaches now")
def preview_segment(segment_id: uuid.UUID, session: DbSession, actor: CurrentActor) -> PreviewOut:
    return PreviewOut.of(core.preview_segment(session, actor, segment_id))


@router.post(
    "/{segment_id}/refresh",
    responses=NOT_FOUND,
    summary="Refresh now: a Dagster run when Dagster is configured, else in the request",
)
def refresh_segment(
    segment_id: uuid.UUID, app: App, session: DbSession, actor: CurrentActor
) -> RefreshOut:
    request = request_segment_refresh(app, actor, segment_id)
    return RefreshOut.of(request, core.get_segment(session, actor, segment_id))


@router.post(
    "/{segment_id}/resnapshot",
    responses=NOT_FOUND,
    summary="Take the members again now (a static segment re-freezes them)",
)
def resnapshot_segment(
    segment_id: uuid.UUID, session: DbSession, actor: CurrentActor
) -> ResnapshotOut:
    snapshot = core.resnapshot_segment(session, actor, segment_id)
    session.commit()
    return ResnapshotOut.of(snapshot, core.get_segment(session, actor, segment_id))


@router.get("/{segment_id}/members", responses=NOT_FOUND, summary="Stored members, by name")
def members(
    segment_id: uuid.UUID,
    session: DbSession,
    actor: CurrentActor,
    reachable_only: Annotated[bool, Query(description="Leave out opted-out members.")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> MemberPageOut:
    page = list_members(
        session, actor, segment_id, reachable_only=reachable_only, limit=limit, offset=offset
    )
    return MemberPageOut.of(page)


@router.get(
    "/{segment_id}/history", responses=NOT_FOUND, summary="Who entered and left, per snapshot"
)
def history(
    segment_id: uuid.UUID,
    session: DbSession,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[HistoryOut]:
    entries = core.membership_history(session, actor, segment_id, limit=limit)
    return [HistoryOut.of(entry) for entry in entries]
