"""Is a campaign ready to send, and to whom would it go: readiness and estimates.

``check_campaign`` lists everything that keeps a campaign from being sent (problems) and
what the owner should know first (warnings: the 24-hour window for text and media, the
messaging-limit tier, a large audience, recipients without a value for a variable), with
the recipient estimate. ``estimate_recipients`` answers the same for a segment alone.
Both only read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.campaigns import content
from core.campaigns.audience import Audience, resolve
from core.campaigns.personalize import MissingVariable, Personalizer
from core.campaigns.personalize import missing_report as _missing_report
from core.campaigns.service import load
from core.permissions import Actor, Permission, require
from core.settings import Settings
from core.whatsapp import active_account
from sender.models import MESSAGING_LIMITS
from sql.schema import Campaign, Segment, WhatsAppAccount, WhatsAppTemplate
from sql.types import utcnow


@dataclass
class Estimate:
    """How many a segment's campaign would reach now, and who would be left out."""

    members: int
    recipients: int
    excluded: dict[str, int]
    messaging_limit_tier: str | None = None
    messaging_limit: int | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class Readiness:
    """What keeps a campaign from being sent (problems) and what to know first (warnings)."""

    problems: list[str]
    warnings: list[str]
    estimate: Estimate | None = None
    missing: list[MissingVariable] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems


def campaign_account(session: Session, account_id: uuid.UUID | None) -> WhatsAppAccount | None:
    """The campaign's WhatsApp account if it is still connected, else the active one."""
    if account_id is not None:
        account = session.get(WhatsAppAccount, account_id)
        if account is not None and account.is_active:
            return account
    return active_account(session)


def message_problems(
    session: Session,
    *,
    segment_id: uuid.UUID | None,
    whatsapp_account_id: uuid.UUID | None,
    message_type: str,
    message_content: dict[str, Any],
    whatsapp_template_id: uuid.UUID | None,
    template_variables: dict[str, Any],
) -> list[str]:
    """Problems with the audience choice, the account and the message (no audience query)."""
    found: list[str] = []
    if segment_id is None:
        found.append("No segment is chosen.")
    elif session.get(Segment, segment_id) is None:
        found.append("The chosen segment no longer exists.")
    account = campaign_account(session, whatsapp_account_id)
    if account is None:
        found.append("No WhatsApp account is connected; connect one in WhatsApp account.")
    template = None
    if message_type == "template" and whatsapp_template_id is not None:
        template = session.get(WhatsAppTemplate, whatsapp_template_id)
    found += content.problems(message_type, message_content, template, template_variables)
    if (
        template is not None
        and account is not None
        and template.account_id not in (None, account.id)
    ):
        found.append(
            f"Template '{template.name}' belongs to another WhatsApp account than the one "
            "this campaign sends from."
        )
    return found


def campaign_problems(session: Session, campaign: Campaign, now: datetime) -> list[str]:
    found = message_problems(
        session,
        segment_id=campaign.segment_id,
        whatsapp_account_id=campaign.whatsapp_account_id,
        message_type=campaign.message_type,
        message_content=campaign.message_content,
        whatsapp_template_id=campaign.whatsapp_template_id,
        template_variables=campaign.template_variables,
    )
    if campaign.expires_at is not None and campaign.expires_at <= now:
        found.append(f"The campaign expired at {campaign.expires_at.isoformat()}.")
    return found


def size_warnings(
    recipients: int, account: WhatsAppAccount | None, settings: Settings
) -> list[str]:
    warnings = []
    tier = account.messaging_limit_tier if account else None
    limit = MESSAGING_LIMITS.get(tier or "")
    if limit is not None and recipients > limit:
        warnings.append(
            f"This campaign would reach {recipients:,} people, more than the {limit:,} unique "
            f"customers per 24 hours your WhatsApp number may message now ({tier}). Messages "
            "beyond the limit fail; send to a smaller segment or wait for a higher tier."
        )
    if recipients >= settings.campaign_large_threshold:
        warnings.append(
            f"This is a large campaign: {recipients:,} recipients (Siaran warns from "
            f"{settings.campaign_large_threshold:,}). Check the segment before sending."
        )
    return warnings


def _estimate(audience: Audience, account: WhatsAppAccount | None, settings: Settings) -> Estimate:
    tier = account.messaging_limit_tier if account else None
    recipients = len(audience.recipients)
    return Estimate(
        members=audience.members,
        recipients=recipients,
        excluded=audience.counts,
        messaging_limit_tier=tier,
        messaging_limit=MESSAGING_LIMITS.get(tier or ""),
        warnings=size_warnings(recipients, account, settings),
    )


def estimate_recipients(
    session: Session,
    actor: Actor,
    *,
    segment_id: uuid.UUID,
    settings: Settings,
    now: datetime | None = None,
    campaign_id: uuid.UUID | None = None,
) -> Estimate:
    """Who a campaign to this segment would reach if launched now, and who not and why."""
    require(actor, Permission.CAMPAIGN_READ)
    audience = resolve(
        session,
        segment_id,
        now=now or utcnow(),
        cooldown_hours=settings.campaign_cooldown_hours,
        campaign_id=campaign_id,
        details=False,
    )
    return _estimate(audience, active_account(session), settings)


def check_campaign(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    settings: Settings,
    now: datetime | None = None,
    launching: bool = True,
) -> Readiness:
    """Problems and warnings for sending this campaign (now, or later when not launching)."""
    require(actor, Permission.CAMPAIGN_READ)
    now = now or utcnow()
    campaign = load(session, campaign_id)
    problems = campaign_problems(session, campaign, now)
    warnings: list[str] = []
    if campaign.message_type != "template":
        warnings.append(
            "Text and media messages reach only customers who wrote to you in the last 24 "
            "hours; WhatsApp refuses them for everyone else. Use an approved template to "
            "reach the whole segment."
        )
    if campaign.segment_id is None or session.get(Segment, campaign.segment_id) is None:
        return Readiness(problems, warnings)
    account = campaign_account(session, campaign.whatsapp_account_id)
    template = campaign_template(session, campaign)
    audience = resolve(
        session,
        campaign.segment_id,
        now=now,
        cooldown_hours=settings.campaign_cooldown_hours,
        campaign_id=campaign.id,
    )
    estimate = _estimate(audience, account, settings)
    missing = _missing_report(Personalizer.for_campaign(campaign, template), audience.recipients)
    if estimate.recipients == 0:
        message = f"No one would receive this campaign now: {_summary(estimate)}."
        (problems if launching else warnings).append(message)
    warnings += estimate.warnings
    warnings += [f"{m}; they will be skipped." for m in missing]
    if account is not None and campaign.rate_limit > account.throughput_per_second:
        warnings.append(
            f"The rate limit ({campaign.rate_limit} msg/s) is above what your number may send "
            f"({account.throughput_per_second} msg/s); Siaran sends at the lower rate."
        )
    return Readiness(problems, warnings, estimate, missing)


def _summary(estimate: Estimate) -> str:
    parts = [f"{estimate.members:,} segment members"]
    parts += [f"{n:,} {reason.replace('_', ' ')}" for reason, n in estimate.excluded.items() if n]
    return ", ".join(parts)


def campaign_template(session: Session, campaign: Campaign) -> WhatsAppTemplate | None:
    if campaign.message_type != "template" or campaign.whatsapp_template_id is None:
        return None
    return session.get(WhatsAppTemplate, campaign.whatsapp_template_id)
