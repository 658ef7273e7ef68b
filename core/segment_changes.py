"""What changed in the CRM since a moment, and which saved segments those changes move.

The segment sensor (``pipelines.segments``) asks this every tick, so a customer who starts
to match a dynamic segment is in it within a minute without re-evaluating every segment:

``changed_contacts``     contacts created or edited, labelled or with a new message since
                         ``since`` (their features are stale; see ``core.segments.features``)
``opt_out_changes``      contacts who opted out or back in since ``since`` (reachable counts)
``segments_moved_by``    dynamic segments whose stored members, among the given contacts,
                         differ from what their criteria select now (after a features refresh)
``segments_holding``     segments that have any of the given contacts as stored members

Only timestamped changes are seen: a status or rating changed in place, or a removed label,
leaves no time behind, so the scheduled full refresh catches those
(``SIARAN_SEGMENT_REFRESH_CRON``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.segments import contacts_with_activity_since, label_masks, matching_contacts
from core.segments.compiler import FEATURES
from sql.schema import ContactPreference, Segment, SegmentMember

log = logging.getLogger("siaran.segments")

#: Contacts per IN list: well under both engines' bind-parameter limits.
BATCH = 2000


def changed_contacts(session: Session, since: datetime) -> list[uuid.UUID]:
    """Contacts new, edited, labelled or messaged at or after ``since``."""
    return sorted(set(contacts_with_activity_since(session, since)))


def opt_out_changes(session: Session, since: datetime) -> list[uuid.UUID]:
    """Contacts who opted out, or were opted back in, at or after ``since``."""
    query = select(ContactPreference.contact_id).where(
        or_(ContactPreference.opted_out_at >= since, ContactPreference.opted_in_at >= since)
    )
    return sorted(set(session.scalars(query)))


def segments_moved_by(
    session: Session, contact_ids: Sequence[uuid.UUID], now: datetime
) -> list[uuid.UUID]:
    """Dynamic segments that ``contact_ids`` would enter or leave if snapshotted at ``now``.

    Compares, for these contacts only, the stored members with the criteria evaluated over
    the current features: two indexed lookups per segment, whatever the segment's size.
    """
    if not contact_ids:
        return []
    masks = label_masks(session)
    segments = session.execute(
        select(Segment.id, Segment.name, Segment.criteria)
        .where(Segment.kind == "dynamic")
        .order_by(Segment.id)
    ).all()
    moved = []
    for segment_id, name, criteria in segments:
        try:
            selected = matching_contacts(criteria, now, masks)
        except InvalidInput as exc:  # stored criteria are validated; say so if one is not
            log.warning("Segment %s (%s) has invalid criteria: %s", name, segment_id, exc)
            continue
        for batch in _batches(contact_ids):
            matching = set(session.scalars(selected.where(FEATURES.c.contact_id.in_(batch))))
            stored = set(
                session.scalars(
                    select(SegmentMember.contact_id).where(
                        SegmentMember.segment_id == segment_id,
                        SegmentMember.contact_id.in_(batch),
                    )
                )
            )
            if matching != stored:
                moved.append(segment_id)
                break
    return moved


def segments_holding(session: Session, contact_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Segments with any of ``contact_ids`` among their stored members."""
    found: set[uuid.UUID] = set()
    for batch in _batches(contact_ids):
        found.update(
            session.scalars(
                select(SegmentMember.segment_id)
                .where(SegmentMember.contact_id.in_(batch))
                .distinct()
            )
        )
    return sorted(found)


def _batches(ids: Sequence[uuid.UUID]) -> list[Sequence[uuid.UUID]]:
    return [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]
