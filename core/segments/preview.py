"""Segment preview: who unsaved criteria or a saved segment reaches, before anything is sent.

One scan of ``contact_features`` yields the matching count, the opted-out count and the
breakdowns by latest status and by label; a second query stops at the first
``SAMPLE_SIZE`` members. Opt-outs are read live from ``contact_preferences``; everything
else is as fresh as ``features_computed_at``, which the preview reports.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, case, func, select
from sqlalchemy.orm import Session

from core.contact_search import label_names
from core.errors import NotFound
from core.permissions import Actor, Permission, require
from core.phones import mask_phone
from core.segments.compiler import (
    CONTACT_LABELS,
    CONTACTS,
    FEATURES,
    LABEL_BITS,
    LABELS,
    compile_criteria,
)
from core.segments.criteria import Group
from core.segments.features import features_computed_at, label_masks
from sql.schema import CONVERSATION_STATUSES, ContactPreference, Segment, SegmentMember
from sql.types import utcnow

SAMPLE_SIZE = 20
#: The ``by_status`` key of contacts without any conversation.
NO_CONVERSATION = "none"

PREFERENCES = ContactPreference.__table__
MEMBERS = SegmentMember.__table__


@dataclass(frozen=True)
class SampleMember:
    """A member as this actor may see it: ``phone`` is masked unless ``phone_masked`` is False."""

    contact_id: uuid.UUID
    name: str
    phone: str
    phone_masked: bool
    labels: tuple[str, ...]
    last_interaction_at: datetime | None
    opted_out: bool


@dataclass(frozen=True)
class Preview:
    """Who a segment reaches: counts, breakdowns and a few members."""

    matching: int
    reachable: int
    opted_out: int
    sample: list[SampleMember]
    by_status: dict[str, int]  # latest conversation status (or "none") -> members
    by_label: dict[str, int]  # label -> members carrying it, most common first
    features_computed_at: datetime | None  # the oldest feature row: no count is staler
    evaluated_at: datetime
    source: str  # "criteria" (evaluated now) or "snapshot" (a static segment's members)


@dataclass(frozen=True)
class _Members:
    """Where a preview's members come from: rows of ``from_`` passing ``where``."""

    from_: FromClause
    where: ColumnElement[bool]
    contact_id: ColumnElement[uuid.UUID]
    source: str


def preview_criteria(
    session: Session,
    actor: Actor,
    criteria: Group | dict[str, Any],
    *,
    now: datetime | None = None,
) -> Preview:
    """Preview unsaved criteria (invalid ones raise InvalidInput with paths)."""
    require(actor, Permission.SEGMENT_READ)
    now = now or utcnow()
    masks = label_masks(session)
    where = compile_criteria(criteria, now, masks)
    members = _Members(FEATURES, where, FEATURES.c.contact_id, "criteria")
    return _preview(session, actor, members, masks, now)


def preview_segment(
    session: Session, actor: Actor, segment_id: uuid.UUID, *, now: datetime | None = None
) -> Preview:
    """Preview a saved segment: a dynamic one evaluated now, a static one's frozen members."""
    require(actor, Permission.SEGMENT_READ)
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"No segment with id {segment_id}.")
    if segment.kind == "dynamic":
        return preview_criteria(session, actor, segment.criteria, now=now)
    now = now or utcnow()
    members = _Members(
        MEMBERS.outerjoin(FEATURES, FEATURES.c.contact_id == MEMBERS.c.contact_id),
        MEMBERS.c.segment_id == segment.id,
        MEMBERS.c.contact_id,
        "snapshot",
    )
    return _preview(session, actor, members, label_masks(session), now)


def _preview(
    session: Session, actor: Actor, members: _Members, masks: Mapping[str, int], now: datetime
) -> Preview:
    totals = session.execute(_totals(members, masks)).mappings().one()
    matching = int(totals["members"] or 0)
    opted_out = int(totals["opted_out"] or 0)
    by_status = {
        status: int(totals[f"status_{i}"] or 0)
        for i, status in enumerate((*CONVERSATION_STATUSES, None))
    }
    by_status = {(status or NO_CONVERSATION): count for status, count in by_status.items()}
    by_label = {name: int(totals[f"label_{i}"] or 0) for i, name in enumerate(masks)}
    by_label.update(_unmapped_label_counts(session, members, masks))
    return Preview(
        matching=matching,
        reachable=matching - opted_out,
        opted_out=opted_out,
        sample=_sample(session, actor, members),
        by_status=_largest_first(by_status),
        by_label=_largest_first(by_label),
        features_computed_at=features_computed_at(session),
        evaluated_at=now,
        source=members.source,
    )


def _largest_first(counts: dict[str, int]) -> dict[str, int]:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {key: count for key, count in ordered if count}


def opted_out_ids() -> Select[Any]:
    return select(PREFERENCES.c.contact_id).where(PREFERENCES.c.opted_out.is_(True))


def _totals(members: _Members, masks: Mapping[str, int]) -> Select[Any]:
    """Members, opted-out members, members per latest status and per label: one scan.

    Conditional sums rather than GROUP BY, which would sort every member on SQLite.
    """

    def count_if(test: ColumnElement[bool], name: str) -> ColumnElement[int]:
        return func.sum(case((test, 1), else_=0)).label(name)

    status = FEATURES.c.latest_status
    per_status = [
        count_if(status == value if value else status.is_(None), f"status_{i}")
        for i, value in enumerate((*CONVERSATION_STATUSES, None))
    ]
    per_label = [
        count_if(FEATURES.c.label_bits.op("&")(mask) != 0, f"label_{i}")
        for i, mask in enumerate(masks.values())
    ]
    # IN over the (few) opted-out contacts: one small hash/ephemeral set, not a join per row.
    opted = count_if(members.contact_id.in_(opted_out_ids()), "opted_out")
    return (
        select(func.count().label("members"), opted, *per_status, *per_label)
        .select_from(members.from_)
        .where(members.where)
    )


def _unmapped_label_counts(
    session: Session, members: _Members, masks: Mapping[str, int]
) -> dict[str, int]:
    """Members per label for labels without a bit (new since the last full refresh)."""
    unmapped = select(LABELS.c.id).where(LABELS.c.id.not_in(select(LABEL_BITS.c.label_id)))
    if session.execute(unmapped.limit(1)).first() is None:
        return {}
    member_ids = select(members.contact_id).select_from(members.from_).where(members.where)
    query = (
        select(LABELS.c.name, func.count())
        .select_from(CONTACT_LABELS.join(LABELS, LABELS.c.id == CONTACT_LABELS.c.label_id))
        .where(CONTACT_LABELS.c.label_id.in_(unmapped), CONTACT_LABELS.c.contact_id.in_(member_ids))
        .group_by(LABELS.c.name)
    )
    return {name: int(count) for name, count in session.execute(query)}


def _sample(session: Session, actor: Actor, members: _Members) -> list[SampleMember]:
    # No ORDER BY: the scan stops at the first SAMPLE_SIZE members instead of reading all.
    ids_query = (
        select(members.contact_id)
        .select_from(members.from_)
        .where(members.where)
        .limit(SAMPLE_SIZE)
    )
    ids = list(session.execute(ids_query).scalars())
    if not ids:
        return []
    people = session.execute(
        select(
            CONTACTS.c.id,
            CONTACTS.c.name,
            CONTACTS.c.phone,
            FEATURES.c.last_interaction_at,
            PREFERENCES.c.opted_out,
        )
        .select_from(
            CONTACTS.outerjoin(FEATURES, FEATURES.c.contact_id == CONTACTS.c.id).outerjoin(
                PREFERENCES, PREFERENCES.c.contact_id == CONTACTS.c.id
            )
        )
        .where(CONTACTS.c.id.in_(ids))
    ).all()
    labels = label_names(session, ids)
    unmasked = actor.can(Permission.PHONE_UNMASKED)
    sample = [
        SampleMember(
            contact_id=row.id,
            name=row.name,
            phone=row.phone if unmasked else mask_phone(row.phone),
            phone_masked=not unmasked,
            labels=tuple(labels.get(row.id, ())),
            last_interaction_at=row.last_interaction_at,
            opted_out=bool(row.opted_out),
        )
        for row in people
    ]
    return sorted(sample, key=lambda member: (member.name, str(member.contact_id)))
