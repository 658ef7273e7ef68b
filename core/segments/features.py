"""Per-contact features: one denormalised row per contact that segment criteria filter on.

``refresh_contact_features`` recomputes ``contact_features`` with set-based SQL, for every
contact or for the given ones: conversation aggregates, the labels as a bitmask and a copy
of the custom fields. It upserts and rewrites only the rows whose values changed, so a
periodic full refresh neither bloats PostgreSQL's table with a million dead row versions
(measured: a table three times its size made previews 2-3x slower) nor churns SQLite's
log. Each full refresh is recorded in ``contact_feature_refreshes``; the start of the last
one (``features_computed_at``) is how fresh every row is at least.

Freshness: the shared inbox changes a conversation's status or rating, and removes
labels, without leaving a timestamp behind, so only a full refresh is sure to see those
changes. An incremental refresh of the contacts ``with_activity_since`` a time (new or
edited contacts, new messages, new labels) keeps the rest current between full refreshes.
A contact created since the last refresh has no row yet, so it is in no segment until one.

Labels get a bit (``label_bits``, at most 63) during a full refresh, most used first;
labels without one are evaluated live from ``contact_labels`` by the compiler.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Float,
    Select,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    union,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.segments.compiler import (
    CONTACT_LABELS,
    CONTACTS,
    CONVERSATIONS,
    FEATURES,
    LABEL_BITS,
    LABELS,
    STATUS_BITS,
)
from sql.schema import ContactFeatureRefresh
from sql.types import UTCDateTime, utcnow

REFRESHES = ContactFeatureRefresh.__table__

#: Contacts refreshed per statement in an incremental refresh (well under bind limits).
BATCH = 2000
#: Contacts per transaction of a full refresh that owns its transactions: SQLite has one
#: writer at a time, and the sender and the webhooks must not wait for a 1M-row rewrite.
CHUNK = 50_000
#: Bits of the signed 64-bit ``label_bits`` column that may stand for a label.
LABEL_BIT_COUNT = 63


@dataclass(frozen=True)
class _Scope:
    """Which contacts a refresh statement covers: given ids, an id range, or all."""

    ids: list[uuid.UUID] | None = None
    after: uuid.UUID | None = None  # exclusive
    upto: uuid.UUID | None = None  # inclusive

    def where(self, column: ColumnElement[uuid.UUID]) -> list[ColumnElement[bool]]:
        tests = []
        if self.ids is not None:
            tests.append(column.in_(self.ids))
        if self.after is not None:
            tests.append(column > self.after)
        if self.upto is not None:
            tests.append(column <= self.upto)
        return tests


def refresh_contact_features(
    target: Engine | Session | Connection,
    contact_ids: Iterable[uuid.UUID] | None = None,
    *,
    now: datetime | None = None,
) -> int:
    """Recompute the features of ``contact_ids`` (every contact when None); rows changed.

    Given a Session or Connection it writes in the caller's transaction. Given an Engine
    it commits as it goes, ``CHUNK`` contacts (or ``BATCH`` ids) per transaction, so
    writers elsewhere never wait long; readers see each contact's old or new row. A full
    refresh is recorded as complete (``features_computed_at``) only once every range is.
    """
    started = now or utcnow()
    ids = None if contact_ids is None else list(dict.fromkeys(contact_ids))
    if not isinstance(target, Engine):
        if ids is not None:
            return sum(_upsert(target, _Scope(ids=c), started) for c in _chunks(ids, BATCH))
        _assign_label_bits(target, started)
        changed = _upsert(target, _Scope(), started)
        _finish_full_refresh(target, started, changed)
        return changed
    if ids is not None:
        changed = 0
        for chunk in _chunks(ids, BATCH):
            with target.begin() as connection:
                changed += _upsert(connection, _Scope(ids=chunk), started)
        return changed
    with target.begin() as connection:
        # Bits are assigned only by a full refresh, which rewrites every row's label_bits.
        _assign_label_bits(connection, started)
    changed = 0
    for after, upto in _contact_ranges(target):
        with target.begin() as connection:
            changed += _upsert(connection, _Scope(after=after, upto=upto), started)
    with target.begin() as connection:
        _finish_full_refresh(connection, started, changed)
    return changed


def _finish_full_refresh(db: Session | Connection, started: datetime, changed: int) -> None:
    db.execute(
        insert(REFRESHES),
        [{"id": uuid.uuid4(), "started_at": started, "finished_at": utcnow(),
          "changed_rows": changed}],
    )  # fmt: skip
    # Fresh statistics let both planners pick scans or indexes on the new data.
    db.execute(text("ANALYZE contact_features"))


def _contact_ranges(engine: Engine) -> Iterator[tuple[uuid.UUID | None, uuid.UUID | None]]:
    """Consecutive id ranges of ``CHUNK`` contacts (the last one open-ended)."""
    after = None
    while True:
        query = select(CONTACTS.c.id).order_by(CONTACTS.c.id).offset(CHUNK - 1).limit(1)
        if after is not None:
            query = query.where(CONTACTS.c.id > after)
        with engine.connect() as connection:
            upto = connection.execute(query).scalar()
        yield after, upto
        if upto is None:
            return
        after = upto


def _upsert(db: Session | Connection, scope: _Scope, computed_at: datetime) -> int:
    """Insert missing rows and rewrite changed ones in ``scope``; rows written."""
    rows = _feature_rows(scope, computed_at)
    columns = list(rows.selected_columns.keys())
    dialect = db.get_bind().dialect.name if isinstance(db, Session) else db.dialect.name
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # SQLite needs a WHERE in the SELECT of an upsert (else ON reads as a join constraint).
    statement = insert_(FEATURES).from_select(columns, rows.where(true()))
    values = [c for c in columns if c not in ("contact_id", "computed_at")]
    statement = statement.on_conflict_do_update(
        index_elements=["contact_id"],
        set_={c: statement.excluded[c] for c in [*values, "computed_at"]},
        where=or_(*(FEATURES.c[c].is_distinct_from(statement.excluded[c]) for c in values)),
    )
    result = db.execute(statement.execution_options(preserve_rowcount=True))
    return max(result.rowcount or 0, 0)


def _feature_rows(scope: _Scope, computed_at: datetime) -> Select[Any]:
    """One row per contact (also those without conversations) in ``contact_features`` shape."""
    conv = CONVERSATIONS.c
    latest_first = (conv.last_message_at.desc(), conv.created_at.desc(), conv.id.desc())
    ranked = select(
        conv.contact_id,
        conv.status,
        conv.rating,
        conv.last_message_at,
        func.row_number()
        .over(partition_by=conv.contact_id, order_by=latest_first)
        .label("recency"),
        # Rated conversations first, then by recency: rank 1 carries the latest rating.
        func.row_number()
        .over(partition_by=conv.contact_id, order_by=(conv.rating.is_(None), *latest_first))
        .label("rated_recency"),
    )
    r = ranked.where(*scope.where(conv.contact_id)).subquery("ranked")
    statuses_seen = sum(
        (
            func.max(case((r.c.status == status, bit), else_=0))
            for status, bit in STATUS_BITS.items()
        ),
        start=literal(0),
    )
    per_contact = (
        select(
            r.c.contact_id,
            func.max(r.c.last_message_at).label("last_interaction_at"),
            func.max(case((r.c.recency == 1, r.c.status))).label("latest_status"),
            statuses_seen.label("statuses_seen"),
            func.count().label("conversation_count"),
            func.count(r.c.rating).label("rating_count"),
            func.avg(cast(r.c.rating, Float)).label("avg_rating"),
            func.max(case((r.c.rated_recency == 1, r.c.rating))).label("latest_rating"),
        )
        .group_by(r.c.contact_id)
        .subquery("per_contact")
    )
    a = per_contact.c
    labelled = select(
        CONTACT_LABELS.c.contact_id, func.sum(LABEL_BITS.c.mask).label("label_bits")
    ).join(LABEL_BITS, LABEL_BITS.c.label_id == CONTACT_LABELS.c.label_id)
    labelled = labelled.where(*scope.where(CONTACT_LABELS.c.contact_id))
    bits = labelled.group_by(CONTACT_LABELS.c.contact_id).subquery("bits")
    rows = select(
        CONTACTS.c.id.label("contact_id"),
        a.last_interaction_at,
        a.latest_status,
        func.coalesce(a.statuses_seen, 0).label("statuses_seen"),
        func.coalesce(a.conversation_count, 0).label("conversation_count"),
        func.coalesce(a.rating_count, 0).label("rating_count"),
        a.avg_rating,
        a.latest_rating,
        func.coalesce(bits.c.label_bits, 0).label("label_bits"),
        CONTACTS.c.custom_fields,
        literal(computed_at, UTCDateTime()).label("computed_at"),
    ).select_from(
        CONTACTS.outerjoin(per_contact, a.contact_id == CONTACTS.c.id).outerjoin(
            bits, bits.c.contact_id == CONTACTS.c.id
        )
    )
    return rows.where(*scope.where(CONTACTS.c.id))


def _assign_label_bits(db: Session | Connection, now: datetime) -> None:
    """Give free bits to labels that have none, the most used labels first.

    A deleted label's bit stays in feature rows until they are rewritten, so a bit is
    free only when no label holds it and no row carries it.
    """
    taken = set(db.execute(select(LABEL_BITS.c.bit)).scalars())
    carried = 0
    for (bits,) in db.execute(select(FEATURES.c.label_bits).distinct()):
        carried |= int(bits)
    free = [b for b in range(LABEL_BIT_COUNT) if b not in taken and not carried >> b & 1]
    if not free:
        return
    usage = (
        select(CONTACT_LABELS.c.label_id, func.count().label("uses"))
        .group_by(CONTACT_LABELS.c.label_id)
        .subquery()
    )
    unassigned = (
        select(LABELS.c.id)
        .outerjoin(usage, usage.c.label_id == LABELS.c.id)
        .where(LABELS.c.id.not_in(select(LABEL_BITS.c.label_id)))
        .order_by(func.coalesce(usage.c.uses, 0).desc(), LABELS.c.name)
        .limit(len(free))
    )
    rows = [
        {"label_id": label_id, "bit": bit, "mask": 1 << bit, "assigned_at": now}
        for label_id, bit in zip(db.execute(unassigned).scalars(), free, strict=False)
    ]
    if rows:
        db.execute(insert(LABEL_BITS), rows)


def label_masks(db: Session | Connection) -> dict[str, int]:
    """Label name -> its mask in ``contact_features.label_bits`` (labels that have a bit)."""
    query = select(LABELS.c.name, LABEL_BITS.c.mask).join(
        LABEL_BITS, LABEL_BITS.c.label_id == LABELS.c.id
    )
    return {name: int(mask) for name, mask in db.execute(query)}


def features_computed_at(db: Session | Connection) -> datetime | None:
    """Start of the last completed full refresh: every feature row is at least this fresh."""
    return db.execute(select(func.max(REFRESHES.c.started_at))).scalar()


def compute_features_timed(engine: Engine) -> str:
    """A full refresh, described for a person: how many contacts, how long it took."""
    started = time.monotonic()
    refresh_contact_features(engine)
    with engine.connect() as connection:
        contacts = connection.scalar(select(func.count()).select_from(FEATURES)) or 0
    seconds = time.monotonic() - started
    return f"segment features computed for {contacts:,} contacts in {seconds:.1f} s"


def contacts_with_activity_since(db: Session | Connection, since: datetime) -> list[uuid.UUID]:
    """Contacts created or edited, labelled, or with a message at or after ``since``."""
    changed = union(
        select(CONTACTS.c.id).where(CONTACTS.c.updated_at >= since),
        select(CONVERSATIONS.c.contact_id).where(CONVERSATIONS.c.last_message_at >= since),
        select(CONTACT_LABELS.c.contact_id).where(CONTACT_LABELS.c.created_at >= since),
    )
    return list(db.execute(changed).scalars())


def _chunks(items: list[uuid.UUID], size: int) -> Iterator[list[uuid.UUID]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
