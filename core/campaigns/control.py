"""Steering a campaign once it is on its way: pause, resume, cancel, complete, fail.

Each is one guarded transition (``core.campaigns.lifecycle``), an audit record, and for
starts and ends a notification (``core.campaigns.notify``). The send loop polls the
campaign's status, so pause and resume are flags it sees within its next poll, not new
runs. Cancelling or failing a campaign marks its unsent (pending) messages cancelled in
the same transaction; messages already being sent finish normally.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from core import audit
from core.campaigns.lifecycle import check_allowed, transition
from core.campaigns.notify import notify_campaign
from core.campaigns.outbox import cancel_unsent
from core.campaigns.readiness import campaign_account, message_problems
from core.campaigns.service import load
from core.errors import Conflict, InvalidInput
from core.permissions import SYSTEM_ACTOR, Actor, Permission, Role, require
from core.settings import Settings
from sql.schema import Campaign, CampaignMessage
from sql.types import utcnow

QUEUED = ("pending", "sending")


def _record(session: Session, actor: Actor, action: str, campaign: Campaign, **details: object):
    audit.record(
        session, actor, f"campaign.{action}", "campaign", campaign.id,
        {"name": campaign.name, **details},
    )  # fmt: skip


def pause_campaign(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    settings: Settings,
    reason: str | None = None,
    now: datetime | None = None,
) -> Campaign:
    """Pause a running campaign; Siaran's own pauses (with their reason) notify the owners."""
    require(actor, Permission.CAMPAIGN_WRITE)
    now = now or utcnow()
    campaign = transition(session, campaign_id, "pause", reason=reason, now=now)
    _record(session, actor, "pause", campaign, reason=reason)
    if actor.role == Role.SYSTEM:
        notify_campaign(session, campaign, "paused", settings=settings, reason=reason, now=now)
    return campaign


def resume_campaign(
    session: Session, actor: Actor, campaign_id: uuid.UUID, *, now: datetime | None = None
) -> Campaign:
    """Resume a paused campaign, once what paused it (account, template) is fixed."""
    require(actor, Permission.CAMPAIGN_WRITE)
    campaign = load(session, campaign_id)
    check_allowed(campaign, "resume")
    found = message_problems(
        session,
        segment_id=campaign.segment_id,
        whatsapp_account_id=campaign.whatsapp_account_id,
        message_type=campaign.message_type,
        message_content=campaign.message_content,
        whatsapp_template_id=campaign.whatsapp_template_id,
        template_variables=campaign.template_variables,
    )
    # The audience was resolved at launch: a segment deleted since does not matter.
    found = [p for p in found if "segment" not in p]
    if found:
        raise InvalidInput(
            f"Campaign '{campaign.name}' cannot resume yet: {' '.join(found)}",
            [{"path": "campaign", "message": p} for p in found],
        )
    account = campaign_account(session, campaign.whatsapp_account_id)
    values = {"whatsapp_account_id": account.id} if account is not None else {}
    campaign = transition(session, campaign_id, "resume", now=now, values=values)
    _record(session, actor, "resume", campaign)
    return campaign


def cancel_campaign(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    settings: Settings,
    reason: str | None = None,
    now: datetime | None = None,
) -> Campaign:
    """Cancel a scheduled, running or paused campaign; unsent messages are cancelled."""
    require(actor, Permission.CAMPAIGN_WRITE)
    now = now or utcnow()
    was = load(session, campaign_id).status
    campaign = transition(session, campaign_id, "cancel", reason=reason, now=now)
    unsent = cancel_unsent(session, campaign_id, now)
    _record(session, actor, "cancel", campaign, reason=reason, was=was, unsent=unsent)
    if was != "scheduled":  # a campaign that never started has nothing to report ending
        notify_campaign(session, campaign, "cancelled", settings=settings, reason=reason, now=now)
    return campaign


def fail_campaign(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    settings: Settings,
    reason: str,
    now: datetime | None = None,
) -> Campaign:
    """End a running or paused campaign as failed, with the reason owners will read."""
    require(actor, Permission.CAMPAIGN_WRITE)
    now = now or utcnow()
    campaign = transition(session, campaign_id, "fail", reason=reason, now=now)
    unsent = cancel_unsent(session, campaign_id, now)
    _record(session, actor, "fail", campaign, reason=reason, unsent=unsent)
    notify_campaign(session, campaign, "failed", settings=settings, reason=reason, now=now)
    return campaign


def queued_messages(session: Session, campaign_id: uuid.UUID) -> int:
    """Messages of the campaign still to be sent or in flight (pending or sending)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(CampaignMessage)
            .where(CampaignMessage.campaign_id == campaign_id, CampaignMessage.status.in_(QUEUED))
        )
        or 0
    )


def complete_campaign(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> Campaign:
    """Mark a running campaign completed; Conflict while messages are still queued."""
    require(actor, Permission.CAMPAIGN_WRITE)
    now = now or utcnow()
    campaign = load(session, campaign_id)
    check_allowed(campaign, "complete")
    left = queued_messages(session, campaign_id)
    if left:
        raise Conflict(
            f"Campaign '{campaign.name}' still has {left:,} messages to send; it completes "
            "when they are sent, failed, expired or cancelled."
        )
    nothing_queued = ~exists().where(
        CampaignMessage.campaign_id == campaign_id, CampaignMessage.status.in_(QUEUED)
    )
    campaign = transition(
        session,
        campaign_id,
        "complete",
        now=now,
        guard=nothing_queued,
        guard_refusal=f"Campaign '{campaign.name}' got messages to send again; it is not done.",
    )
    _record(session, actor, "complete", campaign)
    notify_campaign(session, campaign, "completed", settings=settings, now=now)
    return campaign


def complete_if_finished(
    session: Session,
    campaign_id: uuid.UUID,
    *,
    settings: Settings,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Campaign | None:
    """Complete a running campaign with nothing left to send (for the send loop); else None."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.status != "running" or queued_messages(session, campaign_id):
        return None
    try:
        return complete_campaign(
            session, actor or SYSTEM_ACTOR, campaign_id, settings=settings, now=now
        )
    except Conflict:
        return None
