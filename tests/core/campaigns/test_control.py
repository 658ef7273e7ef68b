"""Pause, resume, cancel, complete and fail: transitions, the outbox, audit, notifications."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.campaigns.control import (
    cancel_campaign,
    complete_campaign,
    complete_if_finished,
    fail_campaign,
    pause_campaign,
    resume_campaign,
)
from core.campaigns.launch import launch_campaign
from core.db import UnitOfWork
from core.errors import Conflict, InvalidInput, PermissionDenied
from core.permissions import SYSTEM_ACTOR, Actor
from core.settings import Settings
from sql.schema import (
    AuditLog,
    Campaign,
    CampaignMessage,
    Notification,
    Profile,
    WhatsAppAccount,
)
from tests.core.campaigns.conftest import Shop


@pytest.fixture
def running(uow: UnitOfWork, owner: Actor, quiet_settings: Settings, shop: Shop) -> Shop:
    with uow.begin() as session:
        launch_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
    return shop


def statuses(uow: UnitOfWork, shop: Shop) -> list[str]:
    with uow.session() as session:
        return sorted(
            session.scalars(
                select(CampaignMessage.status).where(
                    CampaignMessage.campaign_id == shop.campaign_id
                )
            )
        )


def notifications(uow: UnitOfWork) -> list[tuple[str, str]]:
    with uow.session() as session:
        rows = session.scalars(select(Notification).order_by(Notification.created_at)).all()
        return [(n.kind, n.title) for n in rows]


def test_pause_and_resume(
    uow: UnitOfWork, owner: Actor, supervisor: Actor, settings: Settings, running: Shop
) -> None:
    with uow.begin() as session, pytest.raises(PermissionDenied):
        pause_campaign(session, supervisor, running.campaign_id, settings=settings)
    with uow.begin() as session:
        paused = pause_campaign(session, owner, running.campaign_id, settings=settings)
    assert paused.status == "paused" and paused.paused_at is not None
    with uow.begin() as session:
        resumed = resume_campaign(session, owner, running.campaign_id)
    assert resumed.status == "running" and resumed.paused_at is None
    with uow.begin() as session, pytest.raises(Conflict, match="already running"):
        resume_campaign(session, owner, running.campaign_id)
    with uow.session() as session:
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.target_id == str(running.campaign_id))
        ).all()
    assert actions == ["campaign.launch", "campaign.pause", "campaign.resume"]
    # An owner's own pause tells nobody; only the start was notified.
    assert [kind for kind, _ in notifications(uow)] == ["campaign_started"]


def test_siaran_pausing_a_campaign_tells_the_owners_why(
    uow: UnitOfWork, owner: Actor, settings: Settings, running: Shop
) -> None:
    reason = "The WhatsApp access token has expired or was revoked."
    with uow.begin() as session:
        pause_campaign(session, SYSTEM_ACTOR, running.campaign_id, settings=settings, reason=reason)
    with uow.session() as session:
        note = session.scalars(
            select(Notification).where(Notification.kind == "campaign_paused")
        ).one()
    assert note.title == "Campaign 'Promo' was paused" and note.body == reason
    assert note.profile_id == owner.id


def test_resume_waits_until_the_account_is_connected_again(
    uow: UnitOfWork, owner: Actor, settings: Settings, running: Shop
) -> None:
    with uow.begin() as session:
        pause_campaign(session, owner, running.campaign_id, settings=settings)
        session.get(WhatsAppAccount, running.account_id).is_active = False  # type: ignore[union-attr]
    with uow.begin() as session, pytest.raises(InvalidInput, match="cannot resume yet: No What"):
        resume_campaign(session, owner, running.campaign_id)


def test_cancel_cancels_what_was_not_sent(
    uow: UnitOfWork, owner: Actor, settings: Settings, running: Shop
) -> None:
    with uow.begin() as session:
        first, second, _ = session.scalars(
            select(CampaignMessage).order_by(CampaignMessage.phone)
        ).all()
        first.status, second.status = "sent", "sending"
    with uow.begin() as session:
        cancelled = cancel_campaign(
            session, owner, running.campaign_id, settings=settings, reason="Salah harga"
        )
    assert cancelled.status == "cancelled" and cancelled.status_reason == "Salah harga"
    assert statuses(uow, running) == ["cancelled", "sending", "sent"]
    assert notifications(uow)[-1] == ("campaign_cancelled", "Campaign 'Promo' was cancelled")
    with uow.begin() as session, pytest.raises(Conflict, match="already cancelled"):
        cancel_campaign(session, owner, running.campaign_id, settings=settings)


def test_complete_only_when_nothing_is_left_to_send(
    uow: UnitOfWork, owner: Actor, settings: Settings, running: Shop
) -> None:
    with uow.begin() as session:
        assert complete_if_finished(session, running.campaign_id, settings=settings) is None
        with pytest.raises(Conflict, match="still has 3 messages to send"):
            complete_campaign(session, owner, running.campaign_id, settings=settings)
    with uow.begin() as session:
        for message in session.scalars(select(CampaignMessage)):
            message.status = "delivered"
        campaign = session.get(Campaign, running.campaign_id)
        assert campaign is not None
        campaign.sent_count = campaign.delivered_count = 3
    with uow.begin() as session:
        done = complete_if_finished(session, running.campaign_id, settings=settings)
    assert done is not None and done.status == "completed" and done.completed_at is not None
    kind, title = notifications(uow)[-1]
    assert (kind, title) == ("campaign_completed", "Campaign 'Promo' completed")
    with uow.session() as session:
        body = session.scalars(
            select(Notification.body).where(Notification.kind == "campaign_completed")
        ).one()
    assert body == "3 of 3 sent, 3 delivered, 0 read, 0 failed."


def test_fail_ends_the_campaign_with_its_reason(
    uow: UnitOfWork, owner: Actor, settings: Settings, running: Shop
) -> None:
    with uow.begin() as session:
        failed = fail_campaign(
            session, SYSTEM_ACTOR, running.campaign_id, settings=settings,
            reason="Template 'promo' was disabled by WhatsApp.",
        )  # fmt: skip
    assert failed.status == "failed"
    assert statuses(uow, running) == ["cancelled"] * 3
    assert notifications(uow)[-1] == ("campaign_failed", "Campaign 'Promo' failed")


def test_owners_and_the_creator_are_notified_once_each(
    uow: UnitOfWork, owner: Actor, supervisor: Actor, agent: Actor, quiet_settings: Settings,
    shop: Shop,
) -> None:  # fmt: skip
    with uow.begin() as session:
        other_owner = Profile(
            email="owner2@example.com", full_name="Owner Two", role="owner", password_hash="x"
        )
        session.add(other_owner)
        session.get(Campaign, shop.campaign_id).created_by = supervisor.id  # type: ignore[union-attr]
    with uow.begin() as session:
        launch_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
    with uow.session() as session:
        told = set(session.scalars(select(Notification.profile_id)))
    assert told == {owner.id, other_owner.id, supervisor.id}
