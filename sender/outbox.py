"""The outbox as the sender's queue: claims, results, and reconciling uncertain sends.

A message's way through the sender (statuses of ``campaign_messages``)::

    pending ──claim──► sending ──answer──► sent             (wamid, sent_at)
       ▲                 │  │  └─────────► failed           (Meta's code and message)
       │                 │  └──retryable──► pending         (next_attempt_at = backoff)
       ├──release────────┘                 (claimed, never posted: pause, cancel, stop)
       │
       └──after the grace── sending, unclaimed ◄── no answer (timeout, crash, dead worker)
          period                 │
                                 └──status webhook──► sent (``confirm_sent``)

``claim`` marks a batch ``sending`` with ``claimed_by``/``claimed_at`` and counts the
attempt, in one statement and committed BEFORE any of them is posted (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL; on SQLite one UPDATE ... RETURNING holds the write lock). So a
crash can never lose a message nor let two workers post it: at worst a message is left
``sending`` with nobody holding it. Messages to contacts who opted out since the launch are
cancelled in the same transaction instead of being handed out.

The answers are written by ``sender.results``. A message left ``sending`` may have reached
WhatsApp, and Meta does not deduplicate: posting it again could deliver it twice. Every
send carries our message id in ``biz_opaque_callback_data`` and Meta echoes it in the
message's status webhooks, so the webhook receiver can record it as sent
(``confirm_sent``). The sender waits ``sender_reconcile_grace_seconds`` for that
(``next_attempt_at`` holds the deadline); only a message still unconfirmed after it goes
back to pending and is sent again (``requeue_unconfirmed``).

The residual risk: a message that did reach WhatsApp is sent twice only if its status
webhook reaches Siaran later than the grace period after the failure (the webhook receiver
down that long, or Meta delaying its webhooks beyond it). Meta normally reports ``sent``
within seconds and retries undelivered webhooks for days, so a grace of minutes (default 10)
makes this need an outage of the receiver longer than the grace, while costing only a
delay for the messages that never left. Raise the grace if the receiver may be down longer.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sql.schema import Campaign, CampaignMessage, ContactPreference

M = CampaignMessage
TABLE = CampaignMessage.__table__
_CHUNK = 500


@dataclass(frozen=True)
class Claimed:
    """A message this worker holds: ``sending``, not yet answered."""

    id: uuid.UUID
    campaign_id: uuid.UUID
    contact_id: uuid.UUID | None
    payload: dict[str, Any]
    attempts: int  # including the one about to be made


def _due(now: datetime) -> Any:
    return or_(M.next_attempt_at.is_(None), M.next_attempt_at <= now)


def claim(
    session: Session, campaign_id: uuid.UUID, worker_id: str, limit: int, now: datetime
) -> list[Claimed]:
    """Mark up to ``limit`` due pending messages of the campaign ``sending`` for this worker."""
    picked = (
        select(M.id)
        .where(M.campaign_id == campaign_id, M.status == "pending", _due(now))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # A materialized CTE: as a plain IN (subquery) PostgreSQL may rescan the locking
        # subquery and claim more than ``limit`` rows.
        locked = picked.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        chosen = M.id.in_(select(locked.c.id))
    else:
        chosen = M.id.in_(picked)
    rows = session.execute(
        update(M)
        .where(chosen, M.status == "pending")
        .values(
            status="sending",
            claimed_by=worker_id,
            claimed_at=now,
            attempts=M.attempts + 1,
            updated_at=now,
        )
        .returning(M.id, M.contact_id, M.rendered_content, M.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    stopped = _opted_out(session, [r.contact_id for r in rows if r.contact_id is not None])
    if stopped:
        _skip_opted_out(session, [r.id for r in rows if r.contact_id in stopped], now)
    return [
        Claimed(r.id, campaign_id, r.contact_id, r.rendered_content, r.attempts)
        for r in rows
        if r.contact_id not in stopped
    ]


def _opted_out(session: Session, contact_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if not contact_ids:
        return set()
    return set(
        session.scalars(
            select(ContactPreference.contact_id).where(
                ContactPreference.contact_id.in_(contact_ids), ContactPreference.opted_out
            )
        )
    )


def _skip_opted_out(session: Session, ids: list[uuid.UUID], now: datetime) -> None:
    """Contacts who opted out after the launch get nothing: their messages are cancelled."""
    session.execute(
        update(M)
        .where(M.id.in_(ids), M.status == "sending")
        .values(
            status="cancelled",
            attempts=M.attempts - 1,
            claimed_by=None,
            claimed_at=None,
            error_message="Not sent: the contact opted out after the campaign was launched.",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def release(session: Session, ids: Sequence[uuid.UUID], worker_id: str, now: datetime) -> int:
    """Claimed messages that were never posted go back to pending, their attempt uncounted."""
    released = 0
    for chunk in chunks(list(ids)):
        released += session.execute(
            update(M)
            .where(M.id.in_(chunk), M.status == "sending", M.claimed_by == worker_id)
            .values(
                status="pending",
                attempts=M.attempts - 1,
                claimed_by=None,
                claimed_at=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    return released


def release_orphans(
    session: Session,
    campaign_ids: Sequence[uuid.UUID],
    *,
    dead: Sequence[str],
    live: Sequence[str],
    stale_before: datetime,
    reconcile_at: datetime,
    now: datetime,
) -> int:
    """Claims of dead workers wait, unclaimed, for their status webhook until ``reconcile_at``.

    They are not put back to pending: the dead worker may have posted them. Dead are the
    workers just found dead, and any other holder that is not ``live`` and claimed before
    ``stale_before`` (a worker that stopped, or whose row is gone). A worker that registered
    after ``live`` was read has only fresh claims, which this leaves alone.
    """
    if not campaign_ids:
        return 0
    orphaned = and_(M.claimed_by.is_not(None), M.claimed_at < stale_before)
    if live:
        orphaned = and_(orphaned, M.claimed_by.not_in(list(live)))
    if dead:
        orphaned = or_(M.claimed_by.in_(list(dead)), orphaned)
    return session.execute(
        update(M)
        .where(M.campaign_id.in_(list(campaign_ids)), M.status == "sending", orphaned)
        .values(claimed_by=None, next_attempt_at=reconcile_at, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


def requeue_unconfirmed(
    session: Session, campaign_ids: Sequence[uuid.UUID], now: datetime, *, max_attempts: int
) -> tuple[int, int]:
    """Unclaimed ``sending`` messages past their grace: pending again, or failed when they
    already had ``max_attempts`` tries. Returns (requeued, failed)."""
    if not campaign_ids:
        return 0, 0
    waiting = and_(
        M.campaign_id.in_(list(campaign_ids)),
        M.status == "sending",
        M.claimed_by.is_(None),
        _due(now),
    )
    failed_ids = session.execute(
        update(M)
        .where(waiting, M.attempts >= max_attempts)
        .values(
            status="failed",
            failed_at=now,
            error_category="transient",
            error_message=(
                f"WhatsApp did not answer {max_attempts} attempts and no status webhook "
                "confirmed the message, so Siaran did not send it again. Retry it if it "
                "should still go out."
            ),
            updated_at=now,
        )
        .returning(M.campaign_id)
        .execution_options(synchronize_session=False)
    ).all()
    add_counters(session, {}, _count_by(row.campaign_id for row in failed_ids))
    requeued = session.execute(
        update(M)
        .where(waiting)
        .values(status="pending", next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return requeued, len(failed_ids)


def confirm_sent(
    session: Session, proofs: Sequence[tuple[uuid.UUID, str, datetime]], *, now: datetime
) -> int:
    """Status webhooks proved WhatsApp accepted these messages: record them as sent.

    ``proofs`` are (message id from ``biz_opaque_callback_data``, wamid, when it was sent).
    For the webhook receiver, when a message the sender has not recorded yet is named (its
    answer was lost, or is not committed yet). Applies to messages still pending, sending,
    expired or cancelled; returns how many it recorded. Rows are taken in id order, then
    contact preferences, then campaign counters: the order every writer of the outbox uses,
    so concurrent writers wait for each other instead of deadlocking.
    """
    confirmed: dict[uuid.UUID, int] = defaultdict(int)
    broadcasts: dict[uuid.UUID, datetime] = {}
    for message_id, wamid, at in sorted(proofs):
        row = session.execute(
            update(M)
            .where(M.id == message_id, M.status.in_(("pending", "sending", "expired", "cancelled")))
            .values(
                status="sent",
                wamid=wamid,
                sent_at=at,
                claimed_by=None,
                next_attempt_at=None,
                error_code=None,
                error_category=None,
                error_title=None,
                error_message=None,
                updated_at=now,
            )
            .returning(M.campaign_id, M.contact_id)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if row is None:
            continue
        confirmed[row.campaign_id] += 1
        if row.contact_id is not None:
            broadcasts[row.contact_id] = max(at, broadcasts.get(row.contact_id, at))
    if broadcasts:
        mark_broadcast(session, broadcasts, now)
    add_counters(session, confirmed, {})
    return sum(confirmed.values())


def _count_by(ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    counts: dict[uuid.UUID, int] = defaultdict(int)
    for campaign_id in ids:
        counts[campaign_id] += 1
    return counts


def add_counters(
    session: Session, sent: dict[uuid.UUID, int], failed: dict[uuid.UUID, int]
) -> None:
    for campaign_id in sorted(set(sent) | set(failed)):  # a fixed order: no deadlocks
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(
                sent_count=Campaign.sent_count + sent.get(campaign_id, 0),
                failed_count=Campaign.failed_count + failed.get(campaign_id, 0),
            )
            .execution_options(synchronize_session=False)
        )


def upsert_preferences(session: Session, rows: list[dict[str, Any]], changes: list[str]) -> Any:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ContactPreference)
    return statement, {c: getattr(statement.excluded, c) for c in changes}


def mark_broadcast(session: Session, sent_at: dict[uuid.UUID, datetime], now: datetime) -> None:
    """Set ``contact_preferences.last_broadcast_at`` (the cooldown) to the newest send."""
    rows = [
        {"contact_id": contact_id, "opted_out": False, "last_broadcast_at": at, "updated_at": now}
        for contact_id, at in sorted(sent_at.items())
    ]
    statement, changes = upsert_preferences(session, rows, ["last_broadcast_at", "updated_at"])
    newer = or_(
        ContactPreference.last_broadcast_at.is_(None),
        ContactPreference.last_broadcast_at < statement.excluded.last_broadcast_at,
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[ContactPreference.contact_id], set_=changes, where=newer
    )
    for chunk in chunks(rows):
        session.execute(upsert, chunk)


def chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
