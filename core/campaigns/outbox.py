"""The outbox after launch: expiry, owners retrying failures, and the exclusion list.

Expiry: a campaign's ``expires_at`` is a deadline after which its unsent (pending)
messages are marked ``expired`` instead of going out stale.

Next due: when a running campaign's outbox next has work for a sender (``next_due``), so
the campaign sensor and the send loop know whether a driver is needed now or only once a
retry WhatsApp asked for (131049: hours later) comes due.

Retry: an owner puts failed messages back to pending, all of a campaign's or selected
ones, but only those whose error class makes a retry worthwhile: transient and throttled
errors, and campaign-fatal ones (an expired token, a paused template) that the owner has
since fixed. Errors permanent for the recipient (not on WhatsApp, opted out of marketing,
invalid number) are never retried, nor messages to contacts who opted out since. The
attempt count is kept. Retrying in a completed or failed campaign reopens it (running).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from core import audit
from core.campaigns.lifecycle import state, transition
from core.campaigns.notify import notify_campaign
from core.campaigns.service import load
from core.errors import Conflict, InvalidInput
from core.permissions import SYSTEM_ACTOR, Actor, Permission, require
from core.phones import mask_phone
from core.settings import Settings
from sender.errors import classify
from sql.schema import (
    EXCLUSION_REASONS,
    Campaign,
    CampaignExclusion,
    CampaignMessage,
    ContactPreference,
)
from sql.types import utcnow

#: Error categories (``sender.errors``) worth an owner's retry.
RETRYABLE_CATEGORIES = frozenset({"transient", "throttled", "campaign_fatal"})
RETRY_STATUSES = ("running", "paused", "completed", "failed")
_CHUNK = 500


def cancel_unsent(session: Session, campaign_id: uuid.UUID, now: datetime) -> int:
    """Pending messages of a cancelled or failed campaign become ``cancelled``."""
    return session.execute(
        update(CampaignMessage)
        .where(CampaignMessage.campaign_id == campaign_id, CampaignMessage.status == "pending")
        .values(status="cancelled", updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


def next_due(
    session: Session, campaign_ids: Sequence[uuid.UUID], now: datetime
) -> dict[uuid.UUID, datetime]:
    """When each campaign's outbox next has work for a sender (never before ``now``).

    ``now`` when a pending message has no ``next_attempt_at`` or it has passed, or when a
    message is ``sending`` under a claim (a sender holds it, or one that died left it to be
    reconciled). Otherwise the earliest ``next_attempt_at`` of its pending messages (retries
    after backoff) and of its unclaimed ``sending`` ones (sends of unknown outcome, pending
    again once their grace period ends). Campaigns with nothing pending or sending are left
    out: nothing to wait for (a running one only needs completing).
    """
    M = CampaignMessage
    claimed = case(((M.status == "sending") & M.claimed_by.is_not(None), 1))
    due: dict[uuid.UUID, datetime] = {}
    for chunk in _chunks(list(dict.fromkeys(campaign_ids))):
        rows = session.execute(
            select(
                M.campaign_id,
                func.min(M.next_attempt_at).label("earliest"),
                func.count().label("queued"),
                func.count(M.next_attempt_at).label("timed"),
                func.count(claimed).label("claimed"),
            )
            .where(M.campaign_id.in_(chunk), M.status.in_(("pending", "sending")))
            .group_by(M.campaign_id)
        ).all()
        for row in rows:
            untimed = row.timed < row.queued
            if untimed or row.claimed or row.earliest is None or row.earliest <= now:
                due[row.campaign_id] = now
            else:
                due[row.campaign_id] = row.earliest
    return due


def expire_messages(
    session: Session, *, now: datetime | None = None, campaign_id: uuid.UUID | None = None
) -> dict[uuid.UUID, int]:
    """Mark pending messages of campaigns past their ``expires_at`` expired; count per campaign."""
    now = now or utcnow()
    query = select(Campaign.id, Campaign.name).where(
        Campaign.expires_at.is_not(None),
        Campaign.expires_at <= now,
        Campaign.status.in_(("running", "paused")),
    )
    if campaign_id is not None:
        query = query.where(Campaign.id == campaign_id)
    expired: dict[uuid.UUID, int] = {}
    for row in session.execute(query).all():
        count = session.execute(
            update(CampaignMessage)
            .where(CampaignMessage.campaign_id == row.id, CampaignMessage.status == "pending")
            .values(status="expired", updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if count:
            expired[row.id] = count
            audit.record(
                session, SYSTEM_ACTOR, "campaign.expire", "campaign", row.id,
                {"name": row.name, "expired": count},
            )  # fmt: skip
    return expired


def error_category(code: int | None, recorded: str | None) -> str | None:
    """The recorded error class, else the class Meta's code implies; None when unknown."""
    if recorded:
        return recorded
    if code is None:
        return None
    return classify(int(code)).category


@dataclass
class RetryReport:
    retried: int = 0
    # reason -> count: "not retryable (recipient)", "opted out", "not failed", ...
    skipped: dict[str, int] = field(default_factory=dict)
    reopened: bool = False


def _chunks(ids: list[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def retry_failed_messages(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    settings: Settings,
    message_ids: list[uuid.UUID] | None = None,
    now: datetime | None = None,
) -> RetryReport:
    """Put the campaign's retryable failed messages (all, or ``message_ids``) back to pending."""
    require(actor, Permission.CAMPAIGN_WRITE)
    now = now or utcnow()
    campaign = load(session, campaign_id)
    if campaign.status not in RETRY_STATUSES:
        raise Conflict(
            f"Campaign '{campaign.name}' is {state(campaign.status)}; failed messages can be "
            "retried "
            "only in running, paused, completed or failed campaigns."
        )
    query = (
        select(
            CampaignMessage.id,
            CampaignMessage.status,
            CampaignMessage.error_code,
            CampaignMessage.error_category,
            func.coalesce(ContactPreference.opted_out, False).label("opted_out"),
        )
        .outerjoin(ContactPreference, ContactPreference.contact_id == CampaignMessage.contact_id)
        .where(CampaignMessage.campaign_id == campaign_id)
    )
    report = RetryReport()
    skipped: Counter[str] = Counter()
    rows = []
    if message_ids is None:
        rows = session.execute(query.where(CampaignMessage.status == "failed")).all()
    else:
        wanted = list(dict.fromkeys(message_ids))
        for chunk in _chunks(wanted):
            rows += session.execute(query.where(CampaignMessage.id.in_(chunk))).all()
        unknown = len(wanted) - len(rows)
        if unknown:
            raise InvalidInput(f"{unknown:,} of the selected messages are not in this campaign.")
    retry: list[uuid.UUID] = []
    for row in rows:
        category = error_category(row.error_code, row.error_category)
        if row.status != "failed":
            skipped[f"not failed ({row.status})"] += 1
        elif row.opted_out:
            skipped["opted out since"] += 1
        elif category not in RETRYABLE_CATEGORIES:
            skipped[f"not retryable ({category or 'unknown error'})"] += 1
        else:
            retry.append(row.id)
    was_sent = was_delivered = 0
    for chunk in _chunks(retry):
        failed_in_chunk = (CampaignMessage.id.in_(chunk), CampaignMessage.status == "failed")
        was_sent += _count(session, *failed_in_chunk, CampaignMessage.sent_at.is_not(None))
        was_delivered += _count(
            session, *failed_in_chunk, CampaignMessage.delivered_at.is_not(None)
        )
        report.retried += session.execute(
            update(CampaignMessage)
            .where(*failed_in_chunk)
            .values(
                status="pending",
                next_attempt_at=now,
                # The next attempt gets a new wamid; failed_at stays so the webhook receiver
                # can tell late echoes of the failed attempt from news of the new one.
                wamid=None,
                sent_at=None,
                delivered_at=None,
                error_code=None,
                error_category=None,
                error_title=None,
                error_message=None,
                claimed_by=None,
                claimed_at=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    report.skipped = dict(skipped)
    if report.retried:
        # The counters follow the messages: these are no longer failed, nor sent yet.
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(
                failed_count=_lowered(Campaign.failed_count, report.retried),
                sent_count=_lowered(Campaign.sent_count, was_sent),
                delivered_count=_lowered(Campaign.delivered_count, was_delivered),
            )
            .execution_options(synchronize_session=False)
        )
        if campaign.status in ("completed", "failed"):
            reason = f"Retrying {report.retried:,} failed messages."
            campaign = transition(session, campaign_id, "reopen", reason=reason, now=now)
            report.reopened = True
            notify_campaign(session, campaign, "reopened", settings=settings, reason=reason)
    session.refresh(campaign)
    audit.record(
        session, actor, "campaign.retry", "campaign", campaign_id,
        {"name": campaign.name, "retried": report.retried, "skipped": report.skipped,
         "selected": None if message_ids is None else len(message_ids),
         "reopened": report.reopened},
    )  # fmt: skip
    return report


def _count(session: Session, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(CampaignMessage).where(*where)) or 0


def _lowered(column: Any, by: int) -> Any:
    lowered = column - by
    return case((lowered > 0, lowered), else_=0)


# --- who was left out -------------------------------------------------------------------


@dataclass(frozen=True)
class ExcludedRecipient:
    contact_id: uuid.UUID
    phone: str  # masked unless the actor may see phone numbers
    reason: str
    detail: str | None


def excluded_recipients(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    reason: str | None = None,
    limit: int | None = 1_000,
    offset: int = 0,
) -> list[ExcludedRecipient]:
    """The contacts the launch left out and why (``limit=None``: all, for downloads)."""
    require(actor, Permission.CAMPAIGN_READ)
    load(session, campaign_id)
    if reason is not None and reason not in EXCLUSION_REASONS:
        raise InvalidInput(
            f"Unknown exclusion reason {reason!r}; expected {', '.join(EXCLUSION_REASONS)}."
        )
    query = (
        select(CampaignExclusion)
        .where(CampaignExclusion.campaign_id == campaign_id)
        .order_by(CampaignExclusion.reason, CampaignExclusion.phone)
        .offset(max(0, offset))
    )
    if reason is not None:
        query = query.where(CampaignExclusion.reason == reason)
    if limit is not None:
        query = query.limit(max(1, limit))
    unmasked = actor.can(Permission.PHONE_UNMASKED)
    return [
        ExcludedRecipient(
            row.contact_id,
            row.phone if unmasked else mask_phone(row.phone),
            row.reason,
            row.detail,
        )
        for row in session.scalars(query)
    ]
