"""Audience resolution and launch: exclusions, the outbox rows, idempotency, readiness."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.bootstrap import Siaran
from core.campaigns.launch import launch_campaign, start_due_campaign
from core.campaigns.outbox import excluded_recipients
from core.campaigns.readiness import check_campaign, estimate_recipients
from core.db import UnitOfWork
from core.errors import Conflict, InvalidInput, PermissionDenied
from core.permissions import Actor
from core.segments.features import refresh_contact_features
from core.settings import Settings
from sql.schema import (
    AuditLog,
    Campaign,
    CampaignExclusion,
    CampaignMessage,
    Contact,
    Notification,
    WhatsAppAccount,
)
from sql.types import utcnow
from tests.core.campaigns import builders
from tests.core.campaigns.conftest import Shop


@pytest.fixture
def crowd(uow: UnitOfWork, shop: Shop, owner: Actor) -> dict[str, uuid.UUID]:
    """Members covering every exclusion; returns the segment id and another campaign's id."""
    now = utcnow()
    with uow.begin() as session:
        people = {
            "Ani": builders.contact(session, "Ani", "+6281200000001"),
            "Budi": builders.contact(session, "Budi", "+6281200000002"),
            "Citra": builders.contact(session, "Citra", "+6281200000003"),
            "Dedi": builders.contact(session, "Dedi", "+6281200000004"),
            "Eka": builders.contact(session, "Eka", "+6281200000005"),
            "Fajar": builders.contact(session, "Fajar", "+6281200000006"),
            "Gita": builders.contact(session, "Gita", "12345"),
            "Hadi": builders.contact(session, "Hadi", "+62 812-0000-0001"),
        }
        builders.opt_out(session, people["Budi"])
        builders.broadcast_at(session, people["Citra"], now - timedelta(hours=2))
        builders.broadcast_at(session, people["Fajar"], now - timedelta(hours=30))
        other = builders.campaign(session, "Kemarin", status="running")
        builders.message(session, other, people["Dedi"], status="sent", sent_ago=timedelta(hours=3))
        builders.message(session, other, people["Eka"], status="pending")
        builders.message(
            session, other, people["Fajar"], status="read", sent_ago=timedelta(hours=40)
        )
        segment = builders.static_segment(session, "Ramai", people.values())
        return {"segment": segment.id, "other": other.id}


def test_the_estimate_leaves_out_each_kind_once(
    uow: UnitOfWork, owner: Actor, settings: Settings, crowd: dict[str, uuid.UUID]
) -> None:
    with uow.session() as session:
        estimate = estimate_recipients(
            session, owner, segment_id=crowd["segment"], settings=settings
        )
    assert estimate.members == 8
    assert estimate.recipients == 2  # Ani and Fajar (his last broadcast was 30 h ago)
    assert estimate.excluded == {
        "opted_out": 1,  # Budi
        "cooldown": 3,  # Citra (last_broadcast_at), Dedi (sent_at), Eka (queued elsewhere)
        "invalid_phone": 1,  # Gita
        "duplicate_phone": 1,  # Hadi has Ani's number, written differently
    }
    assert estimate.messaging_limit_tier == "TIER_2K" and estimate.messaging_limit == 2_000
    assert estimate.warnings == []


def test_the_cooldown_is_configurable(
    uow: UnitOfWork, owner: Actor, settings: Settings, crowd: dict[str, uuid.UUID]
) -> None:
    with uow.session() as session:
        short = settings.model_copy(update={"campaign_cooldown_hours": 1})
        assert (
            estimate_recipients(
                session, owner, segment_id=crowd["segment"], settings=short
            ).excluded["cooldown"]
            == 1
        )  # only Eka, still queued in another campaign
        off = settings.model_copy(update={"campaign_cooldown_hours": 0})
        assert (
            estimate_recipients(
                session, owner, segment_id=crowd["segment"], settings=off
            ).recipients
            == 5
        )
        week = settings.model_copy(update={"campaign_cooldown_hours": 24 * 7})
        assert (
            estimate_recipients(
                session, owner, segment_id=crowd["segment"], settings=week
            ).excluded["cooldown"]
            == 4
        )


def test_large_campaigns_warn_about_the_tier_and_the_threshold(
    uow: UnitOfWork, owner: Actor, settings: Settings, shop: Shop
) -> None:
    with uow.begin() as session:
        people = [builders.contact(session, f"P{i}", f"+628130000{i:04d}") for i in range(60)]
        segment = builders.static_segment(session, "Besar", people).id
        session.get(WhatsAppAccount, shop.account_id).messaging_limit_tier = "TIER_50"  # type: ignore[union-attr]
    with uow.session() as session:
        low = settings.model_copy(update={"campaign_large_threshold": 60})
        estimate = estimate_recipients(session, owner, segment_id=segment, settings=low)
    assert estimate.recipients == 60
    tier, large = estimate.warnings
    assert "reach 60 people, more than the 50 unique customers per 24 hours" in tier
    assert "(TIER_50)" in tier
    assert "large campaign: 60 recipients (Siaran warns from 60)" in large


def test_agents_cannot_estimate(
    uow: UnitOfWork, agent: Actor, settings: Settings, shop: Shop
) -> None:
    with uow.session() as session, pytest.raises(PermissionDenied):
        estimate_recipients(session, agent, segment_id=shop.segment_id, settings=settings)


def test_launch_fills_the_outbox_with_exact_payloads(
    uow: UnitOfWork, owner: Actor, quiet_settings: Settings, shop: Shop
) -> None:
    with uow.begin() as session:
        report = launch_campaign(
            session, owner, shop.campaign_id, settings=quiet_settings, run_id="run-1"
        )
    assert report.recipients == 3 and report.members == 3
    assert report.excluded["missing_variable"] == 0
    with uow.session() as session:
        campaign = session.get(Campaign, shop.campaign_id)
        assert campaign is not None
        assert campaign.status == "running" and campaign.started_at is not None
        assert campaign.total_recipients == 3 and campaign.run_id == "run-1"
        messages = session.scalars(select(CampaignMessage).order_by(CampaignMessage.phone)).all()
        assert [m.status for m in messages] == ["pending"] * 3
        assert [m.attempts for m in messages] == [0, 0, 0]
        bodies = [m.rendered_content["text"]["body"] for m in messages]
        assert bodies == [
            "Halo Ani di Bandung!",
            "Halo Budi di Jakarta!",
            "Halo Citra di kota Anda!",
        ]
        for message in messages:
            assert message.rendered_content["biz_opaque_callback_data"] == str(message.id)
            assert message.rendered_content["to"] == message.phone.lstrip("+")
            assert message.next_attempt_at is not None
        assert [m.contact_id for m in messages] == [
            shop.contacts[name] for name in ("Ani", "Budi", "Citra")
        ]
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.target_id == str(shop.campaign_id))
        )
        assert list(actions) == ["campaign.launch"]
        notes = session.scalars(select(Notification)).all()
        assert [(n.profile_id, n.kind) for n in notes] == [(owner.id, "campaign_started")]
        assert notes[0].title == "Campaign 'Promo' started"
        assert notes[0].body == "Sending to 3 recipients."


def test_a_second_launch_inserts_nothing_and_conflicts(
    uow: UnitOfWork, owner: Actor, quiet_settings: Settings, shop: Shop
) -> None:
    with uow.begin() as session:
        launch_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
    with uow.begin() as session, pytest.raises(Conflict, match="already running"):
        launch_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
    with uow.session() as session:
        assert builders.count_messages(session, shop.campaign_id) == 3


def test_concurrent_launches_fill_the_outbox_once(
    uow: UnitOfWork, owner: Actor, quiet_settings: Settings, shop: Shop
) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            with uow.begin() as session:
                launch_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
            outcomes.append("launched")
        except Conflict as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes.count("launched") == 1, outcomes
    with uow.session() as session:
        assert builders.count_messages(session, shop.campaign_id) == 3


def test_recipients_without_a_value_are_reported_then_skipped(
    uow: UnitOfWork, owner: Actor, supervisor: Actor, quiet_settings: Settings, shop: Shop
) -> None:
    with uow.begin() as session:
        session.get(Campaign, shop.campaign_id).message_content = {"body": "Promo di {city}"}  # type: ignore[union-attr]
    with uow.session() as session:
        readiness = check_campaign(session, supervisor, shop.campaign_id, settings=quiet_settings)
    assert readiness.ready
    assert [str(m) for m in readiness.missing] == [
        "{city}: 1 of 3 recipients have no value and no fallback"
    ]
    assert "{city}: 1 of 3 recipients have no value and no fallback; they will be skipped." in (
        readiness.warnings
    )
    with uow.begin() as session:
        report = launch_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
    assert report.recipients == 2 and report.excluded["missing_variable"] == 1
    with uow.session() as session:
        campaign = session.get(Campaign, shop.campaign_id)
        assert campaign is not None and campaign.excluded_missing_variable == 1
        (left_out,) = excluded_recipients(session, supervisor, shop.campaign_id)
        assert left_out.reason == "missing_variable" and left_out.detail == "{city}"
        assert left_out.contact_id == shop.contacts["Citra"]
        assert left_out.phone == "+62811•••••003"  # supervisors see masked numbers
        (full,) = excluded_recipients(session, owner, shop.campaign_id, reason="missing_variable")
        assert full.phone == "+6281100000003"


def test_the_launch_records_every_exclusion(
    uow: UnitOfWork, owner: Actor, settings: Settings, shop: Shop, crowd: dict[str, uuid.UUID]
) -> None:
    with uow.begin() as session:
        session.get(Campaign, shop.campaign_id).segment_id = crowd["segment"]  # type: ignore[union-attr]
    with uow.begin() as session:
        launch_campaign(session, owner, shop.campaign_id, settings=settings)
    with uow.session() as session:
        campaign = session.get(Campaign, shop.campaign_id)
        assert campaign is not None
        assert (campaign.total_recipients, campaign.excluded_opted_out) == (2, 1)
        assert (campaign.excluded_cooldown, campaign.excluded_invalid_phone) == (3, 1)
        assert campaign.excluded_duplicate_phone == 1
        reasons = session.scalars(
            select(CampaignExclusion.reason).where(
                CampaignExclusion.campaign_id == shop.campaign_id
            )
        ).all()
        assert sorted(reasons) == sorted(
            ["opted_out", "cooldown", "cooldown", "cooldown", "invalid_phone", "duplicate_phone"]
        )


def test_an_unready_campaign_is_refused_and_left_untouched(
    uow: UnitOfWork, owner: Actor, quiet_settings: Settings, shop: Shop
) -> None:
    with uow.begin() as session:
        draft = builders.campaign(session, "Kosong", message_content={"body": ""}).id
    with uow.begin() as session, pytest.raises(InvalidInput) as refused:
        launch_campaign(session, owner, draft, settings=quiet_settings)
    assert refused.value.message == (
        "Campaign 'Kosong' cannot be sent yet: No segment is chosen. The message text is empty."
    )
    with uow.begin() as session:
        template = builders.template(session, None, status="PAUSED")
        campaign = session.get(Campaign, shop.campaign_id)
        assert campaign is not None
        campaign.message_type, campaign.message_content = "template", {}
        campaign.whatsapp_template_id = template.id
        campaign.template_variables = builders.PROMO_VARIABLES
    with uow.begin() as session, pytest.raises(InvalidInput, match="is PAUSED; only APPROVED"):
        launch_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
    with uow.session() as session:
        assert session.get(Campaign, shop.campaign_id).status == "draft"  # type: ignore[union-attr]
        assert builders.count_messages(session, shop.campaign_id) == 0


def test_a_campaign_nobody_would_receive_is_refused(
    uow: UnitOfWork, owner: Actor, quiet_settings: Settings, shop: Shop
) -> None:
    with uow.begin() as session:
        for contact_id in shop.contacts.values():
            builders.opt_out(session, session.get(Contact, contact_id))  # type: ignore[arg-type]
    with uow.session() as session:
        readiness = check_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
    assert readiness.problems == [
        "No one would receive this campaign now: 3 segment members, 3 opted out."
    ]
    with uow.begin() as session, pytest.raises(InvalidInput, match="has no one to send to"):
        launch_campaign(session, owner, shop.campaign_id, settings=quiet_settings)


def test_template_campaigns_launch_with_rendered_templates(
    uow: UnitOfWork, owner: Actor, quiet_settings: Settings, shop: Shop
) -> None:
    with uow.begin() as session:
        template = builders.template(session, session.get(WhatsAppAccount, shop.account_id))
        campaign = session.get(Campaign, shop.campaign_id)
        assert campaign is not None
        campaign.message_type, campaign.message_content = "template", {}
        campaign.whatsapp_template_id = template.id
        variables = dict(builders.PROMO_VARIABLES)
        variables["button.1.1"] = {"source": "field", "value": "city", "fallback": "semua"}
        campaign.template_variables = variables
    with uow.session() as session:
        readiness = check_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
    assert readiness.ready and readiness.warnings == []
    with uow.begin() as session:
        launch_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
    with uow.session() as session:
        citra = session.scalar(
            select(CampaignMessage).where(CampaignMessage.contact_id == shop.contacts["Citra"])
        )
        assert citra is not None
        template_body = citra.rendered_content["template"]
        assert template_body["name"] == "promo_akhir_tahun"
        assert template_body["components"][2]["parameters"] == [{"type": "text", "text": "semua"}]


def test_dynamic_segments_are_evaluated_at_launch(
    uow: UnitOfWork, owner: Actor, quiet_settings: Settings, shop: Shop
) -> None:
    criteria = {
        "type": "all",
        "conditions": [{"type": "custom_field", "field": "city", "op": "eq", "value": "Jakarta"}],
    }
    with uow.begin() as session:
        segment = builders.dynamic_segment(session, "Jakarta", criteria)
        builders.contact(session, "Joko", "+6281100000009", city="Jakarta")
        refresh_contact_features(session)
        session.get(Campaign, shop.campaign_id).segment_id = segment.id  # type: ignore[union-attr]
    with uow.begin() as session:
        launch_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
    with uow.session() as session:
        phones = session.scalars(select(CampaignMessage.phone).order_by(CampaignMessage.phone))
        assert list(phones) == ["+6281100000002", "+6281100000009"]


def test_a_due_campaign_starts_and_a_broken_one_goes_back_to_draft(
    uow: UnitOfWork, siaran: Siaran, quiet_settings: Settings, shop: Shop, owner: Actor
) -> None:
    now = utcnow()
    with uow.begin() as session:
        campaign = session.get(Campaign, shop.campaign_id)
        assert campaign is not None
        campaign.status, campaign.scheduled_at = "scheduled", now - timedelta(seconds=5)
        broken = builders.campaign(
            session,
            "Rusak",
            status="scheduled",
            scheduled_at=now,
            created_by=owner.id,
            message_content={"body": "Halo"},
        ).id
    with uow.begin() as session:
        report = start_due_campaign(session, shop.campaign_id, settings=quiet_settings, run_id="r")
        assert report is not None and report.recipients == 3
        assert start_due_campaign(session, broken, settings=quiet_settings) is None
    with uow.begin() as session:
        # Already running: a second sensor tick changes nothing.
        assert start_due_campaign(session, shop.campaign_id, settings=quiet_settings) is None
    with uow.session() as session:
        failed = session.get(Campaign, broken)
        assert failed is not None and failed.status == "draft" and failed.scheduled_at is None
        assert failed.status_reason == (
            "Could not start at its scheduled time: Campaign 'Rusak' cannot be sent yet: "
            "No segment is chosen."
        )
        kinds = session.scalars(
            select(Notification.kind).where(Notification.campaign_id == broken)
        ).all()
        assert kinds == ["campaign_not_started"]
        actor_roles = session.scalars(
            select(AuditLog.actor_role).where(AuditLog.target_id == str(broken))
        ).all()
        assert actor_roles == ["system"]


def test_a_campaign_with_messages_is_never_launched_again(
    uow: UnitOfWork, owner: Actor, quiet_settings: Settings, shop: Shop
) -> None:
    with uow.begin() as session:
        ani = session.get(Contact, shop.contacts["Ani"])
        builders.message(session, session.get(Campaign, shop.campaign_id), ani)  # type: ignore[arg-type]
    with uow.begin() as session, pytest.raises(Conflict, match="already has messages"):
        launch_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
    with uow.session() as session:
        assert session.get(Campaign, shop.campaign_id).status == "draft"  # type: ignore[union-attr]
        assert builders.count_messages(session, shop.campaign_id) == 1
