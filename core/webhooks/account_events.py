"""Template and phone-number news from Meta: statuses, quality, messaging limits.

``message_template_status_update`` sets the template's status (``REINSTATED`` means
approved again; ``DELETED`` marks it removed) and reason. A template that became PAUSED or
DISABLED stops the campaigns using it, with the reason:

    running    -> paused through ``core.campaigns.pause_campaign`` (owners are notified)
    paused     -> stays paused; its reason now names the template
    scheduled  -> stays scheduled with the reason set; the campaign lifecycle has no
                  scheduled -> paused move, and at its start time the launch refuses a
                  template that is not APPROVED (the campaign goes back to draft with that
                  reason). A template paused for 3 hours may well be back by then.

Nothing resumes on its own when the template is approved again: the owner decides.

``message_template_quality_update`` sets the template's quality score;
``phone_number_quality_update`` sets the account's messaging limit tier and quality
(FLAGGED means Meta rated the number's quality low: RED; UNFLAGGED that it recovered:
GREEN; an explicit rating in the payload wins). A "Check connection" re-reads both.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core import audit
from core.campaigns.control import pause_campaign
from core.errors import Conflict
from core.permissions import SYSTEM_ACTOR
from core.settings import Settings
from core.webhooks.envelope import PhoneQualityUpdate, TemplateQualityUpdate, TemplateStatusUpdate
from sql.schema import Campaign, WhatsAppAccount, WhatsAppTemplate
from sql.types import utcnow

log = logging.getLogger("siaran.webhooks")
STOPPING = ("PAUSED", "DISABLED")
_STATUS_OF_EVENT = {"REINSTATED": "APPROVED", "PENDING_DELETION": "DELETED"}
_QUALITY_OF_EVENT = {"FLAGGED": "RED", "UNFLAGGED": "GREEN"}


@dataclass
class AccountReport:
    templates: int = 0  # template rows changed
    campaigns_paused: int = 0
    campaigns_flagged: int = 0  # scheduled or paused campaigns given the template's reason
    accounts: int = 0
    unknown: int = 0  # templates or numbers Siaran does not know


def apply_account_events(
    session: Session,
    template_statuses: list[TemplateStatusUpdate],
    template_qualities: list[TemplateQualityUpdate],
    phone_qualities: list[PhoneQualityUpdate],
    settings: Settings,
) -> AccountReport:
    report = AccountReport()
    for item in template_statuses:
        _template_status(session, item, settings, report)
    for quality in template_qualities:
        template = _find_template(session, quality.meta_template_id, quality.name,
                                  quality.language, quality.waba_id)  # fmt: skip
        if template is None:
            report.unknown += 1
        elif template.quality_score != quality.quality:
            template.quality_score = quality.quality
            report.templates += 1
    for phone in phone_qualities:
        _phone_quality(session, phone, report)
    return report


def _find_template(
    session: Session,
    meta_id: str | None,
    name: str | None,
    language: str | None,
    waba_id: str | None,
) -> WhatsAppTemplate | None:
    if meta_id is not None:
        found = session.scalar(
            select(WhatsAppTemplate).where(WhatsAppTemplate.meta_template_id == meta_id).limit(1)
        )
        if found is not None:
            return found
    if name is None:
        return None
    query = select(WhatsAppTemplate).where(WhatsAppTemplate.name == name)
    if language is not None:
        query = query.where(WhatsAppTemplate.language == language)
    if waba_id is not None:
        accounts = select(WhatsAppAccount.id).where(WhatsAppAccount.waba_id == waba_id)
        query = query.where(
            or_(WhatsAppTemplate.account_id.in_(accounts), WhatsAppTemplate.account_id.is_(None))
        )
    return session.scalar(query.order_by(WhatsAppTemplate.updated_at.desc()).limit(1))


def _template_status(
    session: Session, item: TemplateStatusUpdate, settings: Settings, report: AccountReport
) -> None:
    template = _find_template(session, item.meta_template_id, item.name, item.language,
                              item.waba_id)  # fmt: skip
    if template is None:
        report.unknown += 1
        log.info("Template status %s for unknown template %s", item.event, item.name)
        return
    status = _STATUS_OF_EVENT.get(item.event, item.event)[:32]
    previous = (template.status, template.rejected_reason, template.removed_at)
    if status == "DELETED":
        template.removed_at = template.removed_at or utcnow()
    else:
        template.status = status
        if item.reason is not None or status == "APPROVED":
            template.rejected_reason = item.reason
    if (template.status, template.rejected_reason, template.removed_at) != previous:
        report.templates += 1
        audit.record(
            session, SYSTEM_ACTOR, "whatsapp_template.status", "whatsapp_template", template.id,
            {"name": template.name, "language": template.language, "from": previous[0],
             "to": status, "reason": item.reason},
        )  # fmt: skip
    # Also when the status was already known (a sync may have seen it first): a campaign
    # still running on a stopped template must stop.
    if status in STOPPING:
        _stop_campaigns(session, template, status, item.reason, settings, report)


def _stop_campaigns(
    session: Session,
    template: WhatsAppTemplate,
    status: str,
    reason: str | None,
    settings: Settings,
    report: AccountReport,
) -> None:
    why = f"WhatsApp {status.lower()} the template '{template.name}' ({template.language})"
    why += f": {reason}" if reason else "."
    campaigns = session.execute(
        select(Campaign.id, Campaign.status, Campaign.name)
        .where(
            Campaign.whatsapp_template_id == template.id,
            Campaign.status.in_(("running", "scheduled", "paused")),
        )
        .order_by(Campaign.id)
    ).all()
    for campaign in campaigns:
        if campaign.status == "running":
            try:
                pause_campaign(session, SYSTEM_ACTOR, campaign.id, settings=settings, reason=why)
                report.campaigns_paused += 1
                continue
            except Conflict:
                pass  # it finished or was paused meanwhile: give it the reason if it waits
        flagged = session.execute(
            update(Campaign)
            .where(
                Campaign.id == campaign.id,
                Campaign.status.in_(("scheduled", "paused")),
                or_(Campaign.status_reason.is_(None), Campaign.status_reason != why),
            )
            .values(status_reason=why, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if flagged:
            report.campaigns_flagged += 1
            audit.record(
                session, SYSTEM_ACTOR, "campaign.template_stopped", "campaign", campaign.id,
                {"name": campaign.name, "reason": why},
            )  # fmt: skip


def _digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")


def _phone_quality(session: Session, item: PhoneQualityUpdate, report: AccountReport) -> None:
    wanted = _digits(item.display_phone_number)
    query = select(WhatsAppAccount)
    if item.waba_id is not None:
        query = query.where(WhatsAppAccount.waba_id == item.waba_id)
    accounts = [
        account
        for account in session.scalars(query)
        if not wanted or _digits(account.display_phone_number) == wanted
    ]
    if not accounts:
        report.unknown += 1
        return
    quality = item.quality_rating or _QUALITY_OF_EVENT.get(item.event)
    for account in accounts:
        before = (account.quality_rating, account.messaging_limit_tier, account.throughput_level)
        if quality is not None:
            account.quality_rating = quality[:20]
        if item.current_limit:
            account.messaging_limit_tier = item.current_limit[:40]
        if item.event == "THROUGHPUT_UPGRADE":
            account.throughput_level = "HIGH"
        after = (account.quality_rating, account.messaging_limit_tier, account.throughput_level)
        if after != before:
            report.accounts += 1
            audit.record(
                session, SYSTEM_ACTOR, "whatsapp_account.quality", "whatsapp_account",
                account.id, {"event": item.event, "quality_rating": account.quality_rating,
                             "messaging_limit_tier": account.messaging_limit_tier},
            )  # fmt: skip
