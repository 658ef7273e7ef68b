"""Saved segments: create, edit, delete, read and list them, with their statistics.

Owners write (SEGMENT_WRITE), supervisors read (SEGMENT_READ); every write is audited in
the same transaction. Saving a segment snapshots it at once: a static segment freezes its
members then (and again only on ``resnapshot_segment``), a dynamic one records its first
membership and is kept fresh by the Dagster snapshot asset. ``member_ids`` /
``members_query`` give the audience a campaign launch resolves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.errors import Conflict, InvalidInput, NotFound
from core.permissions import Actor, Permission, require
from core.segments.compiler import matching_contacts
from core.segments.criteria import Group, dump_criteria, parse_criteria
from core.segments.features import label_masks
from core.segments.snapshots import CHANGES, MEMBERS, SnapshotResult, write_snapshot
from sql.schema import SEGMENT_KINDS, Campaign, Segment
from sql.types import utcnow

#: Campaigns in these states still need their segment: it may not be deleted under them.
ACTIVE_CAMPAIGN_STATUSES = ("scheduled", "running", "paused")
MAX_NAME = 200
MAX_DESCRIPTION = 2000


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


#: Default of ``update_segment`` arguments: leave the value as it is.
UNCHANGED: Any = _Unchanged()


@dataclass(frozen=True)
class SegmentSummary:
    """A saved segment with the statistics the list and detail views show."""

    id: uuid.UUID
    name: str
    description: str | None
    kind: str
    criteria: dict[str, Any]
    contact_count: int
    reachable_count: int
    last_refreshed_at: datetime | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    campaign_count: int  # campaigns that name this segment, in any state
    active_campaigns: tuple[str, ...]  # names of scheduled, running or paused ones


@dataclass(frozen=True)
class DeletedSegment:
    name: str
    detached_campaigns: tuple[str, ...]  # finished or draft campaigns now without segment


@dataclass(frozen=True)
class MembershipHistoryEntry:
    changed_at: datetime
    entered: int
    left: int


def create_segment(
    session: Session,
    actor: Actor,
    *,
    name: str,
    criteria: Group | dict[str, Any],
    kind: str = "dynamic",
    description: str | None = None,
    now: datetime | None = None,
) -> SegmentSummary:
    """Save a segment and take its first snapshot (a static one's members freeze here)."""
    require(actor, Permission.SEGMENT_WRITE)
    segment = Segment(
        name=_name(session, name),
        description=_description(description),
        criteria=dump_criteria(parse_criteria(criteria)),
        kind=_kind(kind),
        created_by=actor.id,
    )
    session.add(segment)
    _flush_or_conflict(session, segment.name)
    result = write_snapshot(session, actor, segment, now or utcnow())
    audit.record(
        session,
        actor,
        "segment.create",
        "segment",
        segment.id,
        {"name": segment.name, "kind": segment.kind, "members": result.members},
    )
    return get_segment(session, actor, segment.id)


def update_segment(
    session: Session,
    actor: Actor,
    segment_id: uuid.UUID,
    *,
    name: str = UNCHANGED,
    criteria: Group | dict[str, Any] = UNCHANGED,
    kind: str = UNCHANGED,
    description: str | None = UNCHANGED,
    now: datetime | None = None,
) -> SegmentSummary:
    """Change a segment; new criteria or kind take a new snapshot (entered/left recorded)."""
    require(actor, Permission.SEGMENT_WRITE)
    segment = _segment(session, segment_id)
    changes: dict[str, Any] = {}
    if name is not UNCHANGED and name.strip() != segment.name:
        changes["name"] = [segment.name, _name(session, name, segment.id)]
        segment.name = changes["name"][1]
    if description is not UNCHANGED and _description(description) != segment.description:
        changes["description"] = True
        segment.description = _description(description)
    if criteria is not UNCHANGED:
        document = dump_criteria(parse_criteria(criteria))
        if document != segment.criteria:
            changes["criteria"] = {"before": segment.criteria, "after": document}
            segment.criteria = document
    if kind is not UNCHANGED and _kind(kind) != segment.kind:
        changes["kind"] = [segment.kind, kind]
        segment.kind = kind
    if not changes:
        return get_segment(session, actor, segment.id)
    _flush_or_conflict(session, segment.name)
    if "criteria" in changes or "kind" in changes:
        result = write_snapshot(session, actor, segment, now or utcnow())
        changes["snapshot"] = {"entered": result.entered, "left": result.left}
    audit.record(session, actor, "segment.update", "segment", segment.id, changes)
    return get_segment(session, actor, segment.id)


def delete_segment(session: Session, actor: Actor, segment_id: uuid.UUID) -> DeletedSegment:
    """Delete a segment unless a scheduled, running or paused campaign still uses it.

    Other campaigns (drafts, finished ones) keep their own recipients and lose the link.
    """
    require(actor, Permission.SEGMENT_WRITE)
    segment = _segment(session, segment_id)
    users = session.execute(
        select(Campaign.id, Campaign.name, Campaign.status)
        .where(Campaign.segment_id == segment.id)
        .order_by(Campaign.name)
    ).all()
    active = [user for user in users if user.status in ACTIVE_CAMPAIGN_STATUSES]
    if active:
        named = ", ".join(f'"{user.name}" ({user.status})' for user in active)
        raise Conflict(
            f'Segment "{segment.name}" is used by {named}. Wait for '
            f"{'it' if len(active) == 1 else 'them'} to finish, or cancel or move "
            f"{'it' if len(active) == 1 else 'them'} to another segment, then delete it."
        )
    detached = tuple(user.name for user in users)
    if users:
        session.execute(
            update(Campaign.__table__)
            .where(Campaign.segment_id == segment.id)
            .values(segment_id=None, updated_at=utcnow())
        )
    audit.record(
        session,
        actor,
        "segment.delete",
        "segment",
        segment.id,
        {"name": segment.name, "kind": segment.kind, "detached_campaigns": list(detached)},
    )
    name = segment.name
    session.delete(segment)
    session.flush()
    return DeletedSegment(name=name, detached_campaigns=detached)


def resnapshot_segment(
    session: Session, actor: Actor, segment_id: uuid.UUID, *, now: datetime | None = None
) -> SnapshotResult:
    """Take a snapshot now, on request; for a static segment this re-freezes its members."""
    require(actor, Permission.SEGMENT_WRITE)
    segment = session.get(Segment, segment_id, with_for_update=True)
    if segment is None:
        raise NotFound(f"No segment with id {segment_id}.")
    result = write_snapshot(session, actor, segment, now or utcnow())
    audit.record(
        session,
        actor,
        "segment.resnapshot",
        "segment",
        segment_id,
        {"entered": result.entered, "left": result.left, "members": result.members},
    )
    return result


def get_segment(session: Session, actor: Actor, segment_id: uuid.UUID) -> SegmentSummary:
    require(actor, Permission.SEGMENT_READ)
    found = _summaries(session, Segment.id == segment_id)
    if not found:
        raise NotFound(f"No segment with id {segment_id}.")
    return found[0]


def list_segments(session: Session, actor: Actor) -> list[SegmentSummary]:
    """Every segment with its statistics, by name."""
    require(actor, Permission.SEGMENT_READ)
    return _summaries(session, None)


def membership_history(
    session: Session, actor: Actor, segment_id: uuid.UUID, *, limit: int = 50
) -> list[MembershipHistoryEntry]:
    """How many contacts entered and left at each snapshot, newest first."""
    require(actor, Permission.SEGMENT_READ)
    _segment(session, segment_id)
    rows = session.execute(
        select(
            CHANGES.c.changed_at,
            func.count().label("changes"),
            func.sum(case((CHANGES.c.change == "entered", 1), else_=0)).label("entered"),
        )
        .where(CHANGES.c.segment_id == segment_id)
        .group_by(CHANGES.c.changed_at)
        .order_by(CHANGES.c.changed_at.desc())
        .limit(limit)
    ).all()
    return [
        MembershipHistoryEntry(row.changed_at, int(row.entered), int(row.changes - row.entered))
        for row in rows
    ]


def members_query(
    session: Session, segment_id: uuid.UUID, *, now: datetime | None = None
) -> Select[Any]:
    """SELECT of the member contact ids: a dynamic segment evaluated now, a static one frozen.

    For the core's own callers (a campaign launch checks its own permission); opted-out
    contacts are included: excluding them is the caller's rule.
    """
    segment = _segment(session, segment_id)
    if segment.kind == "static":
        return select(MEMBERS.c.contact_id).where(MEMBERS.c.segment_id == segment.id)
    return matching_contacts(segment.criteria, now or utcnow(), label_masks(session))


def member_ids(
    session: Session, segment_id: uuid.UUID, *, now: datetime | None = None
) -> list[uuid.UUID]:
    return list(session.execute(members_query(session, segment_id, now=now)).scalars())


# --- helpers ------------------------------------------------------------------------------


def _segment(session: Session, segment_id: uuid.UUID) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"No segment with id {segment_id}.")
    return segment


def _name(session: Session, raw: str, own_id: uuid.UUID | None = None) -> str:
    name = (raw or "").strip()
    if not name:
        raise InvalidInput("A segment needs a name.", [{"path": "name", "message": "required"}])
    if len(name) > MAX_NAME:
        message = f"at most {MAX_NAME} characters"
        raise InvalidInput(f"Segment name: {message}.", [{"path": "name", "message": message}])
    clash = select(Segment.id).where(func.lower(Segment.name) == name.lower())
    if own_id is not None:
        clash = clash.where(Segment.id != own_id)
    if session.execute(clash.limit(1)).first() is not None:
        raise Conflict(f'A segment named "{name}" already exists; choose another name.')
    return name


def _description(raw: str | None) -> str | None:
    text = (raw or "").strip()
    if len(text) > MAX_DESCRIPTION:
        message = f"at most {MAX_DESCRIPTION} characters"
        raise InvalidInput(
            f"Description: {message}.", [{"path": "description", "message": message}]
        )
    return text or None


def _kind(kind: str) -> str:
    if kind not in SEGMENT_KINDS:
        message = "expected 'dynamic' or 'static'"
        raise InvalidInput(f"Segment kind: {message}.", [{"path": "kind", "message": message}])
    return kind


def _flush_or_conflict(session: Session, name: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        # Another request saved the same name between our check and this write.
        raise Conflict(f'A segment named "{name}" already exists; choose another name.') from None


def _summaries(session: Session, where: Any) -> list[SegmentSummary]:
    usage = (
        select(
            Campaign.segment_id,
            func.count().label("campaigns"),
        )
        .where(Campaign.segment_id.is_not(None))
        .group_by(Campaign.segment_id)
        .subquery()
    )
    query = (
        select(Segment, func.coalesce(usage.c.campaigns, 0))
        .outerjoin(usage, usage.c.segment_id == Segment.id)
        .order_by(func.lower(Segment.name), Segment.id)
    )
    if where is not None:
        query = query.where(where)
    rows = session.execute(query).all()
    active: dict[uuid.UUID, list[str]] = {}
    if rows:
        for segment_id, campaign in session.execute(
            select(Campaign.segment_id, Campaign.name)
            .where(
                Campaign.segment_id.in_([segment.id for segment, _ in rows]),
                Campaign.status.in_(ACTIVE_CAMPAIGN_STATUSES),
            )
            .order_by(Campaign.name)
        ):
            active.setdefault(segment_id, []).append(campaign)
    return [
        SegmentSummary(
            id=segment.id,
            name=segment.name,
            description=segment.description,
            kind=segment.kind,
            criteria=segment.criteria,
            contact_count=segment.contact_count,
            reachable_count=segment.reachable_count,
            last_refreshed_at=segment.last_refreshed_at,
            created_by=segment.created_by,
            created_at=segment.created_at,
            updated_at=segment.updated_at,
            campaign_count=int(campaigns),
            active_campaigns=tuple(active.get(segment.id, ())),
        )
        for segment, campaigns in rows
    ]
