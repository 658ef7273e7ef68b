"""After launch: expiry of unsent messages and owners retrying failed ones."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.campaigns.launch import launch_campaign
from core.campaigns.outbox import expire_messages, next_due, retry_failed_messages
from core.db import UnitOfWork
from core.errors import Conflict, InvalidInput, PermissionDenied
from core.permissions import Actor
from core.settings import Settings
from sql.schema import AuditLog, Campaign, CampaignMessage, Contact, Notification
from sql.types import utcnow
from tests.core.campaigns import builders
from tests.core.campaigns.conftest import Shop


@pytest.fixture
def running(uow: UnitOfWork, owner: Actor, quiet_settings: Settings, shop: Shop) -> Shop:
    with uow.begin() as session:
        launch_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
    return shop


def by_contact(uow: UnitOfWork, shop: Shop) -> dict[str, CampaignMessage]:
    names = {v: k for k, v in shop.contacts.items()}
    with uow.session() as session:
        return {
            names[m.contact_id]: m  # type: ignore[index]
            for m in session.scalars(
                select(CampaignMessage).where(CampaignMessage.campaign_id == shop.campaign_id)
            )
        }


def test_expiry_marks_only_unsent_messages(uow: UnitOfWork, running: Shop) -> None:
    now = utcnow()
    with uow.begin() as session:
        campaign = session.get(Campaign, running.campaign_id)
        assert campaign is not None
        campaign.expires_at = now - timedelta(minutes=1)
        first = session.scalars(
            select(CampaignMessage).where(CampaignMessage.contact_id == running.contacts["Ani"])
        ).one()
        first.status = "sent"
        fresh = builders.campaign(session, "Besok", status="running", expires_at=now + timedelta(1))
        builders.message(session, fresh, session.get(Contact, running.contacts["Ani"]))  # type: ignore[arg-type]
    with uow.begin() as session:
        assert expire_messages(session, now=now) == {running.campaign_id: 2}
    with uow.begin() as session:
        assert expire_messages(session, now=now) == {}  # nothing left to expire
    messages = by_contact(uow, running)
    assert messages["Ani"].status == "sent"
    assert messages["Budi"].status == messages["Citra"].status == "expired"
    with uow.session() as session:
        assert builders.count_messages(session, fresh.id, "pending") == 1
        details = session.scalars(
            select(AuditLog.details).where(AuditLog.action == "campaign.expire")
        ).one()
    assert details == {"name": "Promo", "expired": 2}


def test_next_due_is_the_earliest_retry_or_now_when_work_waits(uow: UnitOfWork) -> None:
    now = utcnow()
    later, much_later, soon = (now + timedelta(hours=h) for h in (3, 5, 0.2))
    with uow.begin() as session:
        people = [builders.contact(session, f"Ani {i}", f"+628110000000{i}") for i in range(3)]

        def campaign_with(*messages: dict) -> uuid.UUID:
            campaign = builders.campaign(session, "Promo", status="running")
            for who, values in zip(people, messages, strict=False):
                builders.message(session, campaign, who, **values)
            return campaign.id

        retrying = campaign_with(
            {"next_attempt_at": much_later}, {"next_attempt_at": later}, {"status": "sent"}
        )
        untimed = campaign_with({"next_attempt_at": later}, {"next_attempt_at": None})
        overdue = campaign_with({"next_attempt_at": now - timedelta(seconds=1)})
        # A claim: a sender holds it, or one that died left it for reconciliation.
        claimed = campaign_with(
            {"next_attempt_at": later},
            {"status": "sending", "claimed_by": "w1", "claimed_at": now},
        )
        # A send of unknown outcome waits, unclaimed, for its webhook until its grace ends.
        unconfirmed = campaign_with(
            {"next_attempt_at": later}, {"status": "sending", "next_attempt_at": soon}
        )
        finished = campaign_with({"status": "sent"}, {"status": "failed"})
    unknown = uuid.uuid4()

    with uow.session() as session:
        due = next_due(
            session,
            [retrying, untimed, overdue, claimed, unconfirmed, finished, unknown, retrying],
            now,
        )

    assert due == {
        retrying: later,
        untimed: now,
        overdue: now,
        claimed: now,
        unconfirmed: soon,
    }
    with uow.session() as session:
        assert next_due(session, [], now) == {}


def fail(uow: UnitOfWork, shop: Shop, **codes: tuple[int | None, str | None]) -> None:
    with uow.begin() as session:
        for name, (code, category) in codes.items():
            message = session.scalars(
                select(CampaignMessage).where(CampaignMessage.contact_id == shop.contacts[name])
            ).one()
            message.status, message.error_code, message.error_category = "failed", code, category
            message.attempts, message.failed_at, message.error_title = 3, utcnow(), "boom"
        session.get(Campaign, shop.campaign_id).failed_count = len(codes)  # type: ignore[union-attr]


def test_only_retryable_failures_go_back_to_pending(
    uow: UnitOfWork, owner: Actor, settings: Settings, running: Shop
) -> None:
    # 131000: transient; 131026: undeliverable (permanent for the recipient); None/None: unknown
    fail(uow, running, Ani=(131000, None), Budi=(131026, None), Citra=(None, None))
    with uow.begin() as session:
        report = retry_failed_messages(session, owner, running.campaign_id, settings=settings)
    assert report.retried == 1 and not report.reopened
    assert report.skipped == {"not retryable (recipient)": 1, "not retryable (unknown error)": 1}
    messages = by_contact(uow, running)
    ani = messages["Ani"]
    assert ani.status == "pending" and ani.attempts == 3  # attempts are kept
    assert ani.error_code is None and ani.next_attempt_at is not None
    # The next attempt starts afresh; failed_at stays to mark late echoes of the old one.
    assert ani.wamid is None and ani.sent_at is None and ani.failed_at is not None
    assert messages["Budi"].status == "failed" and messages["Budi"].error_code == 131026
    with uow.session() as session:
        assert session.get(Campaign, running.campaign_id).failed_count == 2  # type: ignore[union-attr]
        details = session.scalars(
            select(AuditLog.details).where(AuditLog.action == "campaign.retry")
        ).one()
    assert details["retried"] == 1


def test_the_recorded_error_class_decides_and_opt_outs_are_never_retried(
    uow: UnitOfWork, owner: Actor, settings: Settings, running: Shop
) -> None:
    fail(uow, running, Ani=(None, "transient"), Budi=(190, None), Citra=(131000, None))
    with uow.begin() as session:
        builders.opt_out(session, session.get(Contact, running.contacts["Citra"]))  # type: ignore[arg-type]
    with uow.begin() as session:
        report = retry_failed_messages(session, owner, running.campaign_id, settings=settings)
    # 190 (expired token) is campaign-fatal: worth retrying once the owner reconnected.
    assert report.retried == 2 and report.skipped == {"opted out since": 1}


def test_selected_messages_only(
    uow: UnitOfWork, owner: Actor, settings: Settings, running: Shop
) -> None:
    fail(uow, running, Ani=(131000, None), Budi=(131000, None))
    messages = by_contact(uow, running)
    with uow.begin() as session:
        report = retry_failed_messages(
            session, owner, running.campaign_id, settings=settings,
            message_ids=[messages["Budi"].id, messages["Citra"].id],
        )  # fmt: skip
    assert report.retried == 1 and report.skipped == {"not failed (pending)": 1}
    assert by_contact(uow, running)["Ani"].status == "failed"
    with uow.begin() as session, pytest.raises(InvalidInput, match="1 of the selected"):
        retry_failed_messages(
            session, owner, running.campaign_id, settings=settings, message_ids=[uuid.uuid4()]
        )


def test_retrying_in_a_completed_campaign_reopens_it(
    uow: UnitOfWork, owner: Actor, supervisor: Actor, settings: Settings, running: Shop
) -> None:
    fail(uow, running, Ani=(131000, None))
    with uow.begin() as session:
        session.get(Campaign, running.campaign_id).status = "completed"  # type: ignore[union-attr]
    with uow.begin() as session, pytest.raises(PermissionDenied):
        retry_failed_messages(session, supervisor, running.campaign_id, settings=settings)
    with uow.begin() as session:
        report = retry_failed_messages(session, owner, running.campaign_id, settings=settings)
    assert report.reopened
    with uow.session() as session:
        campaign = session.get(Campaign, running.campaign_id)
        assert campaign is not None and campaign.status == "running"
        assert campaign.status_reason == "Retrying 1 failed messages."
        titles = session.scalars(select(Notification.title)).all()
    assert "Campaign 'Promo' is sending again" in titles


def test_no_retry_in_cancelled_campaigns(
    uow: UnitOfWork, owner: Actor, settings: Settings, running: Shop
) -> None:
    fail(uow, running, Ani=(131000, None))
    with uow.begin() as session:
        session.get(Campaign, running.campaign_id).status = "cancelled"  # type: ignore[union-attr]
    with uow.begin() as session, pytest.raises(Conflict, match="is cancelled; failed messages"):
        retry_failed_messages(session, owner, running.campaign_id, settings=settings)
