"""Template status and quality news, and the phone number's quality and messaging limit."""

from __future__ import annotations

from sqlalchemy import func, select

from core.bootstrap import Siaran
from sql.schema import AuditLog, Campaign, Notification, WhatsAppAccount, WhatsAppTemplate
from tests.core.webhooks import builders
from tests.core.webhooks.conftest import Deliver
from tests.core.webhooks.payloads import (
    envelope,
    phone_quality_change,
    template_quality_change,
    template_status_change,
)


def _template(siaran: Siaran, account: WhatsAppAccount) -> WhatsAppTemplate:
    with siaran.uow.begin() as session:
        return builders.template(session, account)


def test_a_paused_template_pauses_the_campaigns_using_it(
    siaran: Siaran, deliver: Deliver, account: WhatsAppAccount, owner
) -> None:
    template = _template(siaran, account)
    with siaran.uow.begin() as session:
        ids = {
            status: builders.campaign(
                session,
                name=f"C {status}",
                status=status,
                template_id=template.id,
                account_id=account.id,
            ).id
            for status in ("running", "scheduled", "paused", "draft", "completed")
        }
    reason = "Your message template has been paused for 3 hours because of low quality"
    change = template_status_change(
        builders.TEMPLATE_META_ID, template.name, "PAUSED", reason="LOW_QUALITY"
    )
    change["value"]["other_info"] = {"title": "FIRST_PAUSE", "description": reason}
    report = deliver(envelope(change))
    assert report.account.campaigns_paused == 1
    with siaran.uow.session() as session:
        row = session.get(WhatsAppTemplate, template.id)
        assert row is not None and row.status == "PAUSED"
        assert row.rejected_reason == f"LOW_QUALITY: {reason}"
        campaigns = {s: session.get(Campaign, i) for s, i in ids.items()}
        statuses = {s: (c.status, c.status_reason) for s, c in campaigns.items() if c}
        notified = session.scalar(
            select(func.count()).where(
                Notification.campaign_id == ids["running"], Notification.kind == "campaign_paused"
            )
        )
    expected_reason = f"WhatsApp paused the template '{template.name}' (id): LOW_QUALITY: {reason}"
    assert statuses["running"] == ("paused", expected_reason)
    assert statuses["scheduled"] == ("scheduled", expected_reason)
    assert statuses["paused"] == ("paused", expected_reason)
    assert statuses["draft"] == ("draft", None)
    assert statuses["completed"] == ("completed", None)
    assert notified == 1  # the owner hears about it
    # Meta delivering the same news again changes nothing and records nothing more.
    with siaran.uow.session() as session:
        audits = session.scalar(select(func.count()).select_from(AuditLog))
    deliver(envelope(change, waba_id="other-entry"))
    with siaran.uow.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditLog)) == audits


def test_a_disabled_template_stops_running_campaigns_too(
    siaran: Siaran, deliver: Deliver, account: WhatsAppAccount
) -> None:
    template = _template(siaran, account)
    with siaran.uow.begin() as session:
        running = builders.campaign(session, template_id=template.id, account_id=account.id)
    deliver(envelope(template_status_change(builders.TEMPLATE_META_ID, template.name, "DISABLED")))
    with siaran.uow.session() as session:
        campaign = session.get(Campaign, running.id)
        assert campaign is not None and campaign.status == "paused"
        assert "disabled the template" in (campaign.status_reason or "")


def test_reinstated_means_approved_and_resumes_nothing(
    siaran: Siaran, deliver: Deliver, account: WhatsAppAccount
) -> None:
    template = _template(siaran, account)
    with siaran.uow.begin() as session:
        running = builders.campaign(session, template_id=template.id, account_id=account.id)
    deliver(envelope(template_status_change(builders.TEMPLATE_META_ID, template.name, "PAUSED")))
    deliver(
        envelope(template_status_change(builders.TEMPLATE_META_ID, template.name, "REINSTATED"))
    )
    with siaran.uow.session() as session:
        row = session.get(WhatsAppTemplate, template.id)
        campaign = session.get(Campaign, running.id)
    assert row is not None and (row.status, row.rejected_reason) == ("APPROVED", None)
    assert campaign is not None and campaign.status == "paused"


def test_templates_are_found_by_name_and_language_without_meta_id(
    siaran: Siaran, deliver: Deliver, account: WhatsAppAccount
) -> None:
    with siaran.uow.begin() as session:
        template = builders.template(session, account, meta_id="999")
    deliver(
        envelope(template_status_change("1111", template.name, "REJECTED", reason="INVALID_FORMAT"))
    )
    with siaran.uow.session() as session:
        row = session.get(WhatsAppTemplate, template.id)
    assert row is not None and (row.status, row.rejected_reason) == ("REJECTED", "INVALID_FORMAT")


def test_unknown_templates_are_counted_not_created(
    siaran: Siaran, deliver: Deliver, account: WhatsAppAccount
) -> None:
    report = deliver(envelope(template_status_change("42", "never_synced", "APPROVED")))
    assert report.account.templates == 0
    with siaran.uow.session() as session:
        assert session.scalar(select(func.count()).select_from(WhatsAppTemplate)) == 0


def test_template_quality_and_number_quality(
    siaran: Siaran, deliver: Deliver, account: WhatsAppAccount
) -> None:
    template = _template(siaran, account)
    deliver(
        envelope(
            template_quality_change(builders.TEMPLATE_META_ID, template.name, "RED"),
            phone_quality_change("FLAGGED", "TIER_10K"),
        )
    )
    with siaran.uow.session() as session:
        row = session.get(WhatsAppTemplate, template.id)
        number = session.get(WhatsAppAccount, account.id)
    assert row is not None and row.quality_score == "RED"
    assert number is not None
    assert (number.quality_rating, number.messaging_limit_tier) == ("RED", "TIER_10K")
    deliver(envelope(phone_quality_change("UNFLAGGED", "TIER_10K")))
    with siaran.uow.session() as session:
        number = session.get(WhatsAppAccount, account.id)
    assert number is not None and number.quality_rating == "GREEN"
