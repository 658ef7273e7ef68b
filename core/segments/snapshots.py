"""Segment snapshots: the stored membership of a segment and who entered or left it.

``snapshot_segment`` is what the ``segment_snapshots`` Dagster asset runs per segment
partition: it evaluates a dynamic segment's criteria at ``now``, records the contacts who
entered and left since the previous snapshot in ``segment_membership_changes`` and derives
``segment_members`` from those records, so the history and the membership cannot disagree.
A static segment keeps its frozen members there; only its reachable count is refreshed.
Everything is set-based SQL: no member id travels through Python.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, and_, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from core import audit
from core.errors import Conflict, NotFound
from core.permissions import SYSTEM_ACTOR, Actor
from core.segments.compiler import matching_contacts
from core.segments.features import label_masks
from core.segments.preview import opted_out_ids
from core.segments.sqlfuncs import new_uuid
from sql.schema import Segment, SegmentMember, SegmentMembershipChange
from sql.types import UTCDateTime

MEMBERS = SegmentMember.__table__
CHANGES = SegmentMembershipChange.__table__
SEGMENTS = Segment.__table__


@dataclass(frozen=True)
class SnapshotResult:
    segment_id: uuid.UUID
    snapshot_at: datetime
    members: int
    reachable: int
    entered: int
    left: int
    frozen: bool  # a static segment: members kept, only the reachable count refreshed


def snapshot_segment(
    target: Engine | Session,
    segment_id: uuid.UUID,
    now: datetime,
    *,
    actor: Actor = SYSTEM_ACTOR,
) -> SnapshotResult:
    """Refresh the stored membership of a dynamic segment (a static one stays frozen).

    Given an Engine it commits its own transaction; given a Session it writes in the
    caller's. Audited when members entered or left.
    """
    if isinstance(target, Engine):
        with Session(target) as session, session.begin():
            return snapshot_segment(session, segment_id, now, actor=actor)
    segment = _locked(target, segment_id)
    if segment.kind == "static":
        reachable = _reachable(target, segment.id)
        _store_counts(target, segment, segment.contact_count, reachable, None)
        return SnapshotResult(segment.id, now, segment.contact_count, reachable, 0, 0, frozen=True)
    return write_snapshot(target, actor, segment, now)


def write_snapshot(
    session: Session, actor: Actor, segment: Segment, now: datetime
) -> SnapshotResult:
    """Replace ``segment``'s members by its criteria evaluated at ``now`` (static or not)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if segment.last_refreshed_at is not None and now <= segment.last_refreshed_at:
        raise Conflict(
            f'Segment "{segment.name}" was already snapshotted at '
            f"{segment.last_refreshed_at.isoformat()}; a snapshot must be newer than that."
        )
    current = matching_contacts(segment.criteria, now, label_masks(session))
    stored = select(MEMBERS.c.contact_id).where(MEMBERS.c.segment_id == segment.id)
    left = _record(session, segment.id, "left", stored.except_(current), now)
    entered = _record(session, segment.id, "entered", current.except_(stored), now)
    session.execute(
        delete(MEMBERS).where(
            MEMBERS.c.segment_id == segment.id,
            MEMBERS.c.contact_id.in_(_changed(segment.id, "left", now)),
        )
    )
    session.execute(
        update(MEMBERS).where(MEMBERS.c.segment_id == segment.id).values(snapshot_at=now)
    )
    joined = _changed(segment.id, "entered", now).subquery()
    session.execute(
        insert(MEMBERS).from_select(
            ["segment_id", "contact_id", "snapshot_at"],
            select(literal(segment.id), joined.c.contact_id, literal(now, UTCDateTime())),
        )
    )
    members = session.execute(
        select(func.count()).select_from(MEMBERS).where(MEMBERS.c.segment_id == segment.id)
    ).scalar_one()
    reachable = _reachable(session, segment.id)
    _store_counts(session, segment, members, reachable, now)
    if entered or left:
        details = {"entered": entered, "left": left, "members": members, "kind": segment.kind}
        audit.record(session, actor, "segment.snapshot", "segment", segment.id, details)
    return SnapshotResult(segment.id, now, members, reachable, entered, left, frozen=False)


def _locked(session: Session, segment_id: uuid.UUID) -> Segment:
    # FOR UPDATE on PostgreSQL: two snapshots of one segment run one after the other.
    segment = session.get(Segment, segment_id, with_for_update=True)
    if segment is None:
        raise NotFound(f"No segment with id {segment_id}.")
    return segment


def _record(
    session: Session, segment_id: uuid.UUID, change: str, contacts: Any, now: datetime
) -> int:
    """Insert one ``change`` row per contact of the compound select ``contacts``."""
    rows = contacts.subquery()
    statement = insert(CHANGES).from_select(
        ["id", "segment_id", "contact_id", "change", "changed_at"],
        select(
            new_uuid(),
            literal(segment_id),
            rows.c.contact_id,
            literal(change),
            literal(now, UTCDateTime()),
        ),
    )
    result = session.execute(statement.execution_options(preserve_rowcount=True))
    return max(result.rowcount or 0, 0)


def _changed(segment_id: uuid.UUID, change: str, now: datetime) -> Select[Any]:
    """The contacts recorded as ``change`` by the snapshot at ``now`` (only this one: the
    snapshot times of a segment strictly increase)."""
    return select(CHANGES.c.contact_id).where(
        and_(
            CHANGES.c.segment_id == segment_id,
            CHANGES.c.changed_at == now,
            CHANGES.c.change == change,
        )
    )


def _reachable(session: Session, segment_id: uuid.UUID) -> int:
    query = (
        select(func.count())
        .select_from(MEMBERS)
        .where(MEMBERS.c.segment_id == segment_id, MEMBERS.c.contact_id.not_in(opted_out_ids()))
    )
    return int(session.execute(query).scalar_one())


def _store_counts(
    session: Session,
    segment: Segment,
    members: int,
    reachable: int,
    refreshed_at: datetime | None,
) -> None:
    """Write the counts without touching ``updated_at`` (that records edits by people)."""
    values: dict[str, Any] = {
        "contact_count": members,
        "reachable_count": reachable,
        "updated_at": SEGMENTS.c.updated_at,
    }
    if refreshed_at is not None:
        values["last_refreshed_at"] = refreshed_at
    session.execute(update(SEGMENTS).where(SEGMENTS.c.id == segment.id).values(**values))
    session.expire(segment)
