"""Process second: stored webhook events -> messages, replies, consent, templates, counters.

``process_events`` applies a batch of stored events in the caller's transaction and marks
them processed in it, so an event's effects and its "processed" mark commit together or
not at all. ``process_safely`` runs batches in their own transactions; when a batch fails
it retries the events one by one, and an event that still fails is marked ``failed`` with
its error and a next attempt (30 s, doubling, at most an hour apart; never given up).
``retry_due_events`` (the Dagster sensor's job, or ``siaran webhooks retry``) picks up failed
events that are due and events still ``received`` after a grace period (the receiver
stopped before processing them): nothing Meta sent is left behind.

Processing an event twice is harmless (statuses only move forward, replies and opt-outs
are recorded once, counters follow rows), so a retry racing the receiver cannot
double-count; claims keep two retry runs off the same events.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.bootstrap import Siaran
from core.campaign_counters import Deltas
from core.optouts import ConsentChange, apply_changes, phone_from_wa_id
from core.settings import Settings
from core.webhooks.account_events import AccountReport, apply_account_events
from core.webhooks.envelope import Updates, read_envelope
from core.webhooks.inbound import InboundReport, apply_messages, apply_preferences
from core.webhooks.statuses import StatusReport, apply_statuses, lock_messages
from sql.schema import WebhookEvent
from sql.types import utcnow

log = logging.getLogger("siaran.webhooks")
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
#: An event still "received" this long after it arrived was not processed by the receiver.
RECEIVED_GRACE = timedelta(minutes=2)
#: A retry run holds its claim on an event this long.
CLAIM = timedelta(minutes=5)
MAX_ERROR = 4000


@dataclass(frozen=True, slots=True)
class Event:
    """A stored webhook body, ready to process."""

    id: uuid.UUID
    payload: dict[str, Any]


@dataclass
class BatchReport:
    events: int = 0
    statuses: StatusReport = field(default_factory=StatusReport)
    inbound: InboundReport = field(default_factory=InboundReport)
    account: AccountReport = field(default_factory=AccountReport)
    consent: list[tuple[ConsentChange, uuid.UUID]] = field(default_factory=list)
    skipped: int = 0


def process_events(
    session: Session, events: Sequence[Event], *, settings: Settings, now: datetime | None = None
) -> BatchReport:
    """Apply ``events`` in the caller's transaction and mark them processed."""
    now = now or utcnow()
    report = BatchReport(events=len(events))
    if not events:
        return report
    # A write first: on SQLite the transaction then holds the write lock, so everything
    # read below is current until it commits (PostgreSQL locks rows explicitly).
    session.execute(_MARK_PROCESSED, {"ids": [e.id for e in events], "now": now})
    updates = Updates()
    for event in events:
        updates.extend(read_envelope(event.payload))
    report.skipped = updates.skipped
    _lock_messages(session, updates)
    deltas = Deltas()
    report.statuses = apply_statuses(session, updates.statuses, deltas, now)
    report.inbound = apply_messages(session, updates.messages, deltas, settings)
    changes = [
        *report.statuses.opt_outs,
        *report.inbound.consent,
        *apply_preferences(session, updates.preferences, settings),
    ]
    report.consent = apply_changes(session, changes, deltas, now)
    deltas.apply(session)
    report.account = apply_account_events(
        session, updates.template_statuses, updates.template_qualities,
        updates.phone_qualities, settings,
    )  # fmt: skip
    return report


def _lock_messages(session: Session, updates: Updates) -> None:
    senders = [m.sender for m in updates.messages] + [p.sender for p in updates.preferences]
    lock_messages(
        session,
        wamids={s.wamid for s in updates.statuses}
        | {m.context_wamid for m in updates.messages if m.context_wamid},
        ids={s.message_id for s in updates.statuses if s.message_id is not None},
        phones={phone for phone in map(phone_from_wa_id, senders) if phone is not None},
    )


_EVENTS = WebhookEvent.__table__
_MARK_PROCESSED = (
    update(_EVENTS)
    .where(_EVENTS.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        state="processed",
        processed_at=bindparam("now"),
        attempts=_EVENTS.c.attempts + 1,
        error=None,
        next_attempt_at=None,
    )
)


def retry_delay(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failure an event is tried again."""
    return min(RETRY_CAP, RETRY_BASE * 2 ** max(0, attempts - 1))


def mark_failed(session: Session, event_id: uuid.UUID, error: str, now: datetime) -> None:
    attempts = session.scalar(select(WebhookEvent.attempts).where(WebhookEvent.id == event_id))
    if attempts is None:
        return
    attempts += 1
    session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id, WebhookEvent.state != "processed")
        .values(
            state="failed",
            attempts=attempts,
            error=error[:MAX_ERROR],
            next_attempt_at=now + retry_delay(attempts),
        )
        .execution_options(synchronize_session=False)
    )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:MAX_ERROR]


def process_safely(
    siaran: Siaran,
    events: Sequence[Event],
    *,
    write_lock: AbstractContextManager[Any] | None = None,
    on_done: Callable[[BatchReport], None] | None = None,
) -> int:
    """Process ``events`` in one transaction; on failure one by one; mark what still fails.

    Returns how many were processed; ``on_done`` gets the report of each committed batch.
    """
    lock = write_lock or nullcontext()
    try:
        with lock, siaran.uow.begin() as session:
            report = process_events(session, events, settings=siaran.settings)
    except Exception as exc:
        if len(events) == 1:
            return _single(siaran, events[0], exc, lock, on_done)
        log.warning(
            "A batch of %d webhook events failed (%s); one by one now", len(events), _describe(exc)
        )
        return sum(
            process_safely(siaran, [event], write_lock=write_lock, on_done=on_done)
            for event in events
        )
    if on_done is not None:
        on_done(report)
    return len(events)


def _single(
    siaran: Siaran,
    event: Event,
    first_error: BaseException,
    lock: AbstractContextManager[Any],
    on_done: Callable[[BatchReport], None] | None,
) -> int:
    error: BaseException = first_error
    if isinstance(first_error, DBAPIError):  # a deadlock or a busy database: once more now
        try:
            with lock, siaran.uow.begin() as session:
                report = process_events(session, [event], settings=siaran.settings)
            if on_done is not None:
                on_done(report)
            return 1
        except Exception as exc:
            error = exc
    log.error(
        "Webhook event %s failed: %s (kept; retried later)",
        event.id,
        _describe(error),
        exc_info=error,
    )
    with lock, siaran.uow.begin() as session:
        mark_failed(session, event.id, _describe(error), utcnow())
    return 0


# --- retries -------------------------------------------------------------------------------


def _due(now: datetime) -> Any:
    unclaimed = or_(WebhookEvent.next_attempt_at.is_(None), WebhookEvent.next_attempt_at <= now)
    return or_(
        and_(WebhookEvent.state == "failed", WebhookEvent.next_attempt_at <= now),
        and_(
            WebhookEvent.state == "received",
            WebhookEvent.received_at <= now - RECEIVED_GRACE,
            unclaimed,
        ),
    )


def due_count(session: Session, now: datetime | None = None) -> int:
    """How many events wait for a retry now (the sensor's cheap check)."""
    now = now or utcnow()
    return session.scalar(select(func.count()).select_from(WebhookEvent).where(_due(now))) or 0


@dataclass
class RetryReport:
    claimed: int = 0
    processed: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return (
            f"{self.claimed} webhook events retried: {self.processed} processed, "
            f"{self.failed} still failing"
        )


def _claim(siaran: Siaran, now: datetime, limit: int) -> list[Event]:
    with siaran.uow.begin() as session:
        ids = list(
            session.scalars(
                select(WebhookEvent.id)
                .where(_due(now))
                .order_by(WebhookEvent.received_at)
                .limit(limit)
            )
        )
        if not ids:
            return []
        claimed = list(
            session.scalars(
                update(WebhookEvent)
                .where(WebhookEvent.id.in_(ids), _due(now))
                .values(next_attempt_at=now + CLAIM)
                .returning(WebhookEvent.id)
                .execution_options(synchronize_session=False)
            )
        )
        rows = session.execute(
            select(WebhookEvent.id, WebhookEvent.raw_body, WebhookEvent.received_at)
            .where(WebhookEvent.id.in_(claimed))
            .order_by(WebhookEvent.received_at)
        ).all()
    events = []
    for row in rows:
        try:
            payload = json.loads(row.raw_body)
        except ValueError as exc:  # stored bodies were JSON objects; guard anyway
            with siaran.uow.begin() as session:
                mark_failed(session, row.id, f"stored body unreadable: {exc}", now)
            continue
        events.append(Event(row.id, payload if isinstance(payload, dict) else {}))
    return events


def retry_due_events(
    siaran: Siaran, *, now: datetime | None = None, limit: int = 5000, batch: int = 100
) -> RetryReport:
    """Process the events that are due for a retry (see module doc)."""
    now = now or utcnow()
    report = RetryReport()
    events = _claim(siaran, now, limit)
    report.claimed = len(events)
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        report.processed += process_safely(siaran, chunk)
    report.failed = report.claimed - report.processed
    if report.claimed:
        log.info("%s", report)
    return report


class FairLock:
    """A lock taken in arrival order (a ticket lock).

    ``threading.Lock`` lets the thread that just released it take it straight back, so a
    busy processor could keep the storing thread (and Meta's POSTs) waiting for many
    transactions in a row; here the next waiter always goes next.
    """

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._turn:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._turn.wait()

    def __exit__(self, *_: object) -> None:
        with self._turn:
            self._serving += 1
            self._turn.notify_all()


def write_lock_for(siaran: Siaran) -> AbstractContextManager[Any]:
    """A lock that keeps this process's webhook writers off each other on SQLite.

    SQLite admits one writer; threads that collide wait in its busy handler, which sleeps
    in growing steps. Taking turns on a fair lock keeps the receiver's answers fast.
    PostgreSQL needs nothing: its row locks do the work.
    """
    return FairLock() if siaran.engine.dialect.name == "sqlite" else nullcontext()
