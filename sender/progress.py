"""A campaign's progress: sent / total, the current rate and the time left.

Counts come from the outbox (messages per status), so they are the per-message truth
whichever worker sent what; the rate is measured from how the finished count grew over the
last ``RateMeter.span`` seconds. ``save`` keeps the latest figures in ``campaign_progress``
for the app, the API and the Dagster run; ``load`` reads them back.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sql.schema import Campaign, CampaignMessage, CampaignProgress

SENT = ("sent", "delivered", "read")


@dataclass(frozen=True)
class Progress:
    campaign_id: uuid.UUID
    status: str
    total: int
    queued: int  # pending or sending
    sent: int  # accepted by WhatsApp (sent, delivered or read)
    failed: int
    expired: int
    cancelled: int
    rate_per_second: float
    eta_seconds: float | None
    at: datetime

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.expired + self.cancelled

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    def describe(self) -> str:
        """One line for logs and the CLI."""
        parts = [
            f"{self.sent:,}/{self.total:,} sent",
            f"{self.failed:,} failed",
            f"{self.queued:,} queued",
            f"{self.rate_per_second:.1f} msg/s",
        ]
        if self.expired:
            parts.append(f"{self.expired:,} expired")
        if self.cancelled:
            parts.append(f"{self.cancelled:,} cancelled")
        if self.eta_seconds is not None and self.queued:
            parts.append(f"ETA {_duration(self.eta_seconds)}")
        return f"[{self.status}] " + ", ".join(parts)

    def metadata(self) -> dict[str, float | int | str | None]:
        """Plain values for Dagster run metadata and JSON."""
        return {
            "status": self.status,
            "total": self.total,
            "sent": self.sent,
            "failed": self.failed,
            "queued": self.queued,
            "expired": self.expired,
            "cancelled": self.cancelled,
            "rate_per_second": round(self.rate_per_second, 2),
            "eta_seconds": None if self.eta_seconds is None else round(self.eta_seconds, 1),
        }


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


class RateMeter:
    """Finished messages per second over the last ``span`` seconds."""

    def __init__(self, span: float = 10.0) -> None:
        self.span = span
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, done: int) -> float:
        samples = self._samples
        samples.append((now, done))
        while len(samples) > 2 and samples[1][0] <= now - self.span:
            samples.popleft()
        then, done_then = samples[0]
        return max(0.0, (done - done_then) / (now - then)) if now > then else 0.0


def measure(
    session: Session,
    campaign_id: uuid.UUID,
    *,
    meter: RateMeter,
    clock: float,
    fallback_rate: float,
    now: datetime,
) -> Progress | None:
    """Count the campaign's messages by status; None when the campaign is gone.

    ``meter`` turns the finished count at ``clock`` (monotonic seconds) into the current
    rate; until it has one, the ETA assumes ``fallback_rate`` (the configured pace).
    """
    campaign = session.execute(
        select(Campaign.status, Campaign.total_recipients).where(Campaign.id == campaign_id)
    ).one_or_none()
    if campaign is None:
        return None
    counts = dict(
        session.execute(
            select(CampaignMessage.status, func.count())
            .where(CampaignMessage.campaign_id == campaign_id)
            .group_by(CampaignMessage.status)
        ).all()
    )
    queued = counts.get("pending", 0) + counts.get("sending", 0)
    sent = sum(counts.get(s, 0) for s in SENT)
    rate = meter.add(clock, sent + counts.get("failed", 0))
    pace = rate if rate > 0 else fallback_rate
    total = max(campaign.total_recipients, sum(counts.values()))
    return Progress(
        campaign_id=campaign_id,
        status=campaign.status,
        total=total,
        queued=queued,
        sent=sent,
        failed=counts.get("failed", 0),
        expired=counts.get("expired", 0),
        cancelled=counts.get("cancelled", 0),
        rate_per_second=rate,
        eta_seconds=queued / pace if pace > 0 and campaign.status == "running" else None,
        at=now,
    )


def save(session: Session, progress: Progress, worker_id: str) -> None:
    """Upsert the campaign's row (several workers may save the same campaign's progress)."""
    values = {
        "campaign_id": progress.campaign_id,
        "total": progress.total,
        "queued": progress.queued,
        "sent": progress.sent,
        "failed": progress.failed,
        "expired": progress.expired,
        "cancelled": progress.cancelled,
        "rate_per_second": progress.rate_per_second,
        "eta_seconds": progress.eta_seconds,
        "updated_by": worker_id,
        "updated_at": progress.at,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(CampaignProgress).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[CampaignProgress.campaign_id],
            set_={k: getattr(statement.excluded, k) for k in values if k != "campaign_id"},
        )
    )


def load(session: Session, campaign_id: uuid.UUID) -> CampaignProgress | None:
    """The campaign's last saved progress (None before its first send)."""
    return session.get(CampaignProgress, campaign_id)
