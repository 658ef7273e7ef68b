"""The send loop's database calls, each one transaction, run on the loop's database thread.

The loop (``sender.loop``) never touches the database from the event loop: a slow commit
must not delay the next send. These functions take the unit of work, open and commit their
own session, and return plain values. Campaign moves go through ``core.campaigns``
(pause, complete, expire) so permissions, audit and notifications stay in one place.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.campaigns import (
    cancel_unsent as cancel_pending_messages,
)
from core.campaigns import (
    complete_if_finished,
    expire_messages,
    next_due,
    pause_campaign,
)
from core.db import UnitOfWork
from core.errors import Conflict
from core.permissions import SYSTEM_ACTOR
from core.settings import Settings
from sender import outbox, progress, results, workers
from sender.outbox import Claimed
from sender.results import Outcome, Tally
from sql.schema import Campaign, WhatsAppAccount

log = logging.getLogger("siaran.sender")

#: Cancelled or failed campaigns are still swept for unconfirmed messages this long.
STOPPED_SWEEP = timedelta(days=7)


@dataclass(frozen=True)
class CampaignState:
    """What the loop reads about a campaign on every poll."""

    id: uuid.UUID
    name: str
    status: str
    rate_limit: int
    expires_at: datetime | None
    sent_count: int
    failed_count: int
    account_id: uuid.UUID | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class Credentials:
    base_url: str
    api_version: str
    phone_number_id: str
    waba_id: str
    access_token_encrypted: str


@dataclass(frozen=True)
class AccountState:
    id: uuid.UUID
    name: str
    is_active: bool
    throughput_per_second: int
    # What the client is built from: when it changes (a reconnect), the client is rebuilt.
    credentials: Credentials


@dataclass(frozen=True)
class Maintenance:
    """The heartbeat's findings."""

    alive: bool  # False: others declared this worker dead and released its claims
    peers: workers.Peers
    dead: list[str]  # workers found dead just now (they may have sent a moment ago)
    account: AccountState | None
    released: int
    requeued: int
    failed: int


_STATE_COLUMNS = (
    Campaign.id,
    Campaign.name,
    Campaign.status,
    Campaign.rate_limit,
    Campaign.expires_at,
    Campaign.sent_count,
    Campaign.failed_count,
    Campaign.whatsapp_account_id,
)


def read_account(uow: UnitOfWork, account_id: uuid.UUID) -> AccountState | None:
    with uow.session() as session:
        return _account(session, account_id)


def _account(session: Session, account_id: uuid.UUID) -> AccountState | None:
    row = session.get(WhatsAppAccount, account_id, populate_existing=True)
    if row is None:
        return None
    credentials = Credentials(
        row.api_base_url,
        row.api_version,
        row.phone_number_id,
        row.waba_id,
        row.access_token_encrypted,
    )
    return AccountState(row.id, row.name, row.is_active, row.throughput_per_second, credentials)


def read_campaigns(
    uow: UnitOfWork,
    account_id: uuid.UUID,
    campaign_id: uuid.UUID | None,
    known: Sequence[uuid.UUID],
) -> list[CampaignState]:
    """The one campaign, or the number's running and paused ones plus those already known."""
    query = select(*_STATE_COLUMNS)
    if campaign_id is not None:
        query = query.where(Campaign.id == campaign_id)
    else:
        query = query.where(
            or_(
                (Campaign.whatsapp_account_id == account_id)
                & Campaign.status.in_(("running", "paused")),
                Campaign.id.in_(list(known)),
            )
        )
    with uow.session() as session:
        return [CampaignState(*row) for row in session.execute(query).all()]


def claim(
    uow: UnitOfWork, campaign_id: uuid.UUID, worker_id: str, limit: int, now: datetime
) -> list[Claimed]:
    with uow.begin() as session:
        return outbox.claim(session, campaign_id, worker_id, limit, now)


def release(uow: UnitOfWork, ids: Sequence[uuid.UUID], worker_id: str, now: datetime) -> int:
    with uow.begin() as session:
        return outbox.release(session, ids, worker_id, now)


def write_outcomes(
    uow: UnitOfWork, outcomes: Sequence[Outcome], settings: Settings, now: datetime
) -> dict[uuid.UUID, Tally]:
    """Record the answers; a campaign-fatal one pauses its campaign with Meta's reason."""
    with uow.begin() as session:
        tallies = results.record(session, outcomes, now)
        for campaign_id, tally in tallies.items():
            if tally.fatal:
                _pause(session, campaign_id, tally.fatal[0].message, settings, now)
    return tallies


def pause(uow: UnitOfWork, campaign_id: uuid.UUID, reason: str, settings: Settings) -> bool:
    with uow.begin() as session:
        return _pause(session, campaign_id, reason, settings, None)


def _pause(
    session: Session,
    campaign_id: uuid.UUID,
    reason: str,
    settings: Settings,
    now: datetime | None,
) -> bool:
    try:
        pause_campaign(
            session, SYSTEM_ACTOR, campaign_id, settings=settings, reason=reason, now=now
        )
    except Conflict:  # no longer running: an owner paused or cancelled it first
        return False
    log.warning("campaign %s paused: %s", campaign_id, reason)
    return True


def complete(uow: UnitOfWork, campaign_id: uuid.UUID, settings: Settings) -> str | None:
    """Complete the campaign if nothing is left to send; its new status, else None."""
    with uow.begin() as session:
        campaign = complete_if_finished(session, campaign_id, settings=settings)
        return campaign.status if campaign is not None else None


def next_due_at(uow: UnitOfWork, campaign_id: uuid.UUID, now: datetime) -> datetime | None:
    """When the campaign next has a message to send or reconcile (``core.campaigns.next_due``)."""
    with uow.session() as session:
        return next_due(session, [campaign_id], now).get(campaign_id)


def expire(uow: UnitOfWork, campaign_id: uuid.UUID, now: datetime) -> int:
    with uow.begin() as session:
        return expire_messages(session, now=now, campaign_id=campaign_id).get(campaign_id, 0)


def cancel_unsent(uow: UnitOfWork, campaign_id: uuid.UUID, now: datetime) -> int:
    with uow.begin() as session:
        return cancel_pending_messages(session, campaign_id, now)


def register(
    uow: UnitOfWork,
    worker_id: str,
    account_id: uuid.UUID,
    campaign_id: uuid.UUID | None,
    now: datetime,
) -> None:
    with uow.begin() as session:
        workers.register(session, worker_id, account_id, campaign_id, now)


def stop(uow: UnitOfWork, worker_id: str, now: datetime) -> None:
    with uow.begin() as session:
        workers.stop(session, worker_id, now)


def maintain(
    uow: UnitOfWork, worker_id: str, account_id: uuid.UUID, settings: Settings, now: datetime
) -> Maintenance:
    """Heartbeat; reap dead workers and release their claims; requeue unconfirmed sends."""
    with uow.begin() as session:
        alive = workers.heartbeat(session, worker_id, now)
        peers, dead = workers.reap_and_list(
            session, account_id, now, settings.sender_worker_timeout_seconds
        )
        rows = session.execute(
            select(Campaign.id, Campaign.status).where(
                Campaign.whatsapp_account_id == account_id,
                or_(
                    Campaign.status.in_(("running", "paused")),
                    Campaign.status.in_(("cancelled", "failed"))
                    & (Campaign.updated_at >= now - STOPPED_SWEEP),
                ),
            )
        ).all()
        going = [r.id for r in rows if r.status in ("running", "paused")]
        stopped = [r.id for r in rows if r.status in ("cancelled", "failed")]
        grace = timedelta(seconds=settings.sender_reconcile_grace_seconds)
        released = outbox.release_orphans(
            session,
            going + stopped,
            dead=dead,
            live=peers.live,
            stale_before=now - timedelta(seconds=settings.sender_worker_timeout_seconds),
            reconcile_at=now + grace,
            now=now,
        )
        requeued, failed = outbox.requeue_unconfirmed(
            session, going + stopped, now, max_attempts=settings.sender_max_attempts
        )
        for campaign_id in stopped:  # never re-sent: their campaign is over
            cancel_pending_messages(session, campaign_id, now)
        account = _account(session, account_id)
    if released or requeued or failed:
        log.info(
            "worker %s: %d claims of stopped workers await their webhook, %d unconfirmed "
            "messages requeued, %d given up",
            worker_id, released, requeued, failed,
        )  # fmt: skip
    return Maintenance(alive, peers, dead, account, released, requeued, failed)


def save_progress(
    uow: UnitOfWork,
    campaign_id: uuid.UUID,
    worker_id: str,
    *,
    meter: progress.RateMeter,
    clock: float,
    fallback_rate: float,
    now: datetime,
) -> progress.Progress | None:
    with uow.begin() as session:
        measured = progress.measure(
            session, campaign_id, meter=meter, clock=clock, fallback_rate=fallback_rate, now=now
        )
        if measured is not None:
            progress.save(session, measured, worker_id)
        return measured
