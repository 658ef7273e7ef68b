"""Scheduling: a local date, time and IANA timezone become the UTC moment a campaign starts.

Owners think in their own clock ("Friday 09:00 in Jakarta"); ``campaigns.scheduled_at``
stores the UTC instant and ``campaigns.timezone`` the zone it was chosen in, so lists can
show it back in local time. Local times that do not exist (the hour skipped when clocks
spring forward) or happen twice (the hour repeated when they fall back) are refused with
a message saying so, instead of silently picking one. ``due_campaigns`` is what the
sensor polls.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.campaigns.lifecycle import check_allowed, transition
from core.campaigns.service import load
from core.errors import InvalidInput
from core.permissions import Actor, Permission, require
from core.settings import Settings
from sql.schema import Campaign
from sql.types import utcnow

#: A time this little in the past still counts as "now" (the owner took a moment to click).
PAST_GRACE = timedelta(minutes=2)


def zone(name: str) -> ZoneInfo:
    """The IANA timezone ``name`` (e.g. Asia/Jakarta), or InvalidInput."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(
            f"{name!r} is not an IANA timezone such as Asia/Jakarta or America/New_York.",
            [{"path": "timezone", "message": "unknown timezone"}],
        ) from None


def to_utc(local_date: date, local_time: time, timezone: str) -> datetime:
    """The UTC instant of a wall-clock time in ``timezone``; refuses DST gaps and overlaps."""
    tz = zone(timezone)
    naive = datetime.combine(local_date, local_time.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    shown = f"{naive:%Y-%m-%d %H:%M} in {timezone}"
    if first.utcoffset() != second.utcoffset():
        # The two folds differ only around a change; which one is real tells gap from overlap.
        back = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if back != naive:
            raise InvalidInput(
                f"{shown} does not exist: the clocks skip that hour for daylight saving time. "
                "Choose a time outside the skipped hour.",
                [{"path": "time", "message": "nonexistent local time (DST gap)"}],
            )
        earlier, later = sorted((first.astimezone(UTC), second.astimezone(UTC)))
        raise InvalidInput(
            f"{shown} happens twice when the clocks go back for daylight saving time "
            f"({earlier:%H:%M} and {later:%H:%M} UTC). Choose a time outside the repeated hour.",
            [{"path": "time", "message": "ambiguous local time (DST overlap)"}],
        )
    return first.astimezone(UTC)


def local_time(campaign: Campaign) -> datetime | None:
    """When the campaign is scheduled, on the clock of the zone it was scheduled in."""
    if campaign.scheduled_at is None:
        return None
    return campaign.scheduled_at.astimezone(zone(campaign.timezone))


def schedule_campaign(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    local_date: date,
    local_time: time,
    timezone: str,
    settings: Settings,
    now: datetime | None = None,
) -> Campaign:
    """Schedule (or move) a draft or scheduled campaign to start at a local date and time.

    The campaign must be ready to send (InvalidInput lists what is missing); the time must
    exist in that zone, be unambiguous and not be in the past.
    """
    from core.campaigns.readiness import check_campaign  # it imports service, like us

    require(actor, Permission.CAMPAIGN_WRITE)
    now = now or utcnow()
    campaign = load(session, campaign_id)
    check_allowed(campaign, "schedule")
    at = to_utc(local_date, local_time, timezone)
    if at < now - PAST_GRACE:
        current = now.astimezone(zone(timezone))
        raise InvalidInput(
            f"{local_date:%Y-%m-%d} {local_time:%H:%M} in {timezone} has already passed "
            f"(it is now {current:%Y-%m-%d %H:%M} there). Choose a later time, or send now.",
            [{"path": "time", "message": "in the past"}],
        )
    if campaign.expires_at is not None and campaign.expires_at <= at:
        raise InvalidInput(
            f"The campaign expires at {campaign.expires_at.isoformat()}, before or when it "
            "would start. Move the expiry or choose an earlier start.",
            [{"path": "time", "message": "after the campaign's expiry"}],
        )
    readiness = check_campaign(
        session, actor, campaign_id, settings=settings, now=now, launching=False
    )
    if readiness.problems:
        raise InvalidInput(
            f"Campaign '{campaign.name}' cannot be scheduled yet: {' '.join(readiness.problems)}",
            [{"path": "campaign", "message": p} for p in readiness.problems],
        )
    before = campaign.scheduled_at
    campaign = transition(
        session, campaign_id, "schedule", now=now, values={"scheduled_at": at, "timezone": timezone}
    )
    audit.record(
        session, actor, "campaign.schedule", "campaign", campaign_id,
        {"name": campaign.name, "scheduled_at": at.isoformat(), "timezone": timezone,
         "local": f"{local_date:%Y-%m-%d} {local_time:%H:%M}",
         "previous": before.isoformat() if before else None},
    )  # fmt: skip
    return campaign


def unschedule_campaign(session: Session, actor: Actor, campaign_id: uuid.UUID) -> Campaign:
    """Take a scheduled campaign back to draft (its start time is cleared)."""
    require(actor, Permission.CAMPAIGN_WRITE)
    campaign = transition(session, campaign_id, "unschedule")
    audit.record(
        session, actor, "campaign.unschedule", "campaign", campaign_id, {"name": campaign.name}
    )
    return campaign


def due_campaigns(session: Session, now: datetime | None = None) -> list[Campaign]:
    """Scheduled campaigns whose start time has come, earliest first (for the sensor)."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(Campaign)
            .where(Campaign.status == "scheduled", Campaign.scheduled_at <= now)
            .order_by(Campaign.scheduled_at, Campaign.id)
        )
    )
