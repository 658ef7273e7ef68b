"""A campaign's progress as owners see it: sent / total, the current rate and the time left.

Counts come from the outbox (messages per status, the per-message truth whichever sender
sent what); the rate is the one the sender last measured and saved (``sender.progress``),
and only while it is fresh: a campaign nobody is sending right now has no rate and no ETA.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from core.campaigns.outbox import next_due
from core.campaigns.service import get_campaign
from core.permissions import Actor
from sql.types import utcnow


@dataclass(frozen=True)
class ProgressView:
    """A campaign's progress as owners see it: counts from the outbox, the sender's pace."""

    campaign_id: uuid.UUID
    status: str
    total: int
    sent: int
    delivered: int
    read: int
    failed: int
    queued: int
    expired: int
    cancelled: int
    fraction: float
    rate_per_second: float
    eta_seconds: float | None
    measured_at: datetime | None  # when the sender last measured its rate
    next_due_at: datetime | None = None  # set when every queued message waits for a retry


#: The sender saves its rate every 2 s; older than this, nobody is sending right now.
RATE_FRESH = timedelta(seconds=15)


def campaign_progress(
    session: Session, actor: Actor, campaign_id: uuid.UUID, *, now: datetime | None = None
) -> ProgressView:
    """Sent / total, the current rate and the time left; counts are the outbox's truth."""
    from sender import progress

    now = now or utcnow()
    campaign = get_campaign(session, actor, campaign_id)
    counted = progress.measure(
        session, campaign_id, meter=progress.RateMeter(), clock=0.0, fallback_rate=0.0, now=now
    )
    assert counted is not None  # get_campaign found it
    saved = progress.load(session, campaign_id)
    fresh = saved is not None and now - saved.updated_at <= RATE_FRESH
    rate = saved.rate_per_second if fresh and campaign.status == "running" else 0.0
    eta = counted.queued / rate if rate > 0 and counted.queued else None
    due = next_due(session, [campaign_id], now).get(campaign_id) if counted.queued else None
    return ProgressView(
        campaign_id=campaign_id,
        status=campaign.status,
        total=counted.total,
        sent=counted.sent,
        delivered=campaign.delivered_count,
        read=campaign.read_count,
        failed=counted.failed,
        queued=counted.queued,
        expired=counted.expired,
        cancelled=counted.cancelled,
        fraction=counted.done / counted.total if counted.total else 0.0,
        rate_per_second=round(rate, 2),
        eta_seconds=None if eta is None else round(eta, 1),
        measured_at=saved.updated_at if saved is not None else None,
        next_due_at=due if due is not None and due > now else None,
    )
