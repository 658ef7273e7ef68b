"""A saved segment's stored members, a page at a time, as the reading actor may see them.

These are the members of the segment's last snapshot (``segment_members``), the same set
its ``contact_count`` counts; phone numbers are masked for roles without
``phone:unmasked``, and opted-out members are flagged (they are members, not reachable).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.contact_search import label_names
from core.errors import InvalidInput, NotFound
from core.pages import Page
from core.permissions import Actor, Permission, require
from core.phones import mask_phone
from sql.schema import Contact, ContactPreference, Segment, SegmentMember

MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class MemberView:
    contact_id: uuid.UUID
    name: str
    phone: str
    phone_masked: bool
    labels: tuple[str, ...]
    opted_out: bool
    snapshot_at: datetime


@dataclass(frozen=True)
class MemberPage(Page[MemberView]):
    last_refreshed_at: datetime | None


def list_members(
    session: Session,
    actor: Actor,
    segment_id: uuid.UUID,
    *,
    reachable_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> MemberPage:
    """The segment's stored members by name; ``reachable_only`` leaves out opted-out ones."""
    require(actor, Permission.SEGMENT_READ)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must not be negative, got {offset}")
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"No segment with id {segment_id}.")
    opted_out = func.coalesce(ContactPreference.opted_out, False)
    members = (
        select(Contact.id, Contact.name, Contact.phone, opted_out.label("opted_out"),
               SegmentMember.snapshot_at)
        .join(SegmentMember, SegmentMember.contact_id == Contact.id)
        .outerjoin(ContactPreference, ContactPreference.contact_id == Contact.id)
        .where(SegmentMember.segment_id == segment_id)
    )  # fmt: skip
    if reachable_only:
        members = members.where(opted_out.is_(False))
    total = session.scalar(select(func.count()).select_from(members.subquery())) or 0
    rows = session.execute(
        members.order_by(Contact.name, Contact.id).limit(limit).offset(offset)
    ).all()
    labels = label_names(session, [row.id for row in rows])
    unmasked = actor.can(Permission.PHONE_UNMASKED)
    items = [
        MemberView(
            contact_id=row.id,
            name=row.name,
            phone=row.phone if unmasked else mask_phone(row.phone),
            phone_masked=not unmasked,
            labels=tuple(labels.get(row.id, ())),
            opted_out=bool(row.opted_out),
            snapshot_at=row.snapshot_at,
        )
        for row in rows
    ]
    return MemberPage(items, int(total), limit, offset, segment.last_refreshed_at)
