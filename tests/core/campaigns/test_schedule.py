"""Scheduling in the owner's timezone, DST edges, due campaigns, unschedule and cancel."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from core.campaigns.control import cancel_campaign
from core.campaigns.schedule import (
    due_campaigns,
    local_time,
    schedule_campaign,
    to_utc,
    unschedule_campaign,
)
from core.db import UnitOfWork
from core.errors import Conflict, InvalidInput, PermissionDenied
from core.permissions import Actor
from core.settings import Settings
from sql.schema import AuditLog, Campaign
from tests.core.campaigns import builders
from tests.core.campaigns.conftest import Shop

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 09:00 in Jakarta


def test_local_times_become_utc() -> None:
    assert to_utc(date(2026, 3, 6), time(9, 0), "Asia/Jakarta") == datetime(
        2026, 3, 6, 2, 0, tzinfo=UTC
    )
    # New York is UTC-5 before its spring change and UTC-4 after it.
    assert to_utc(date(2026, 3, 7), time(9, 0), "America/New_York").hour == 14
    assert to_utc(date(2026, 3, 9), time(9, 0), "America/New_York").hour == 13


def test_a_time_skipped_by_daylight_saving_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        to_utc(date(2026, 3, 8), time(2, 30), "America/New_York")
    assert refused.value.message.startswith(
        "2026-03-08 02:30 in America/New_York does not exist: the clocks skip that hour"
    )


def test_a_time_repeated_by_daylight_saving_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        to_utc(date(2026, 11, 1), time(1, 30), "America/New_York")
    assert "2026-11-01 01:30 in America/New_York happens twice" in refused.value.message
    assert "(05:30 and 06:30 UTC)" in refused.value.message
    # The minutes either side of the change are fine.
    assert to_utc(date(2026, 11, 1), time(2, 0), "America/New_York").hour == 7
    assert to_utc(date(2026, 3, 8), time(3, 0), "America/New_York").hour == 7


def test_unknown_zones_are_refused() -> None:
    with pytest.raises(InvalidInput, match="'Asia/Jkt' is not an IANA timezone"):
        to_utc(date(2026, 3, 6), time(9, 0), "Asia/Jkt")


def test_scheduling_stores_utc_and_the_zone(
    uow: UnitOfWork, owner: Actor, settings: Settings, shop: Shop
) -> None:
    with uow.begin() as session:
        scheduled = schedule_campaign(
            session, owner, shop.campaign_id, local_date=date(2026, 3, 6), local_time=time(9, 0),
            timezone="Asia/Jakarta", settings=settings, now=NOW,
        )  # fmt: skip
    assert scheduled.status == "scheduled"
    assert scheduled.scheduled_at == datetime(2026, 3, 6, 2, 0, tzinfo=UTC)
    assert scheduled.timezone == "Asia/Jakarta"
    shown = local_time(scheduled)
    assert shown is not None and (shown.hour, shown.minute, shown.day) == (9, 0, 6)
    # Moving it keeps it scheduled, at the new time, in the new zone.
    with uow.begin() as session:
        moved = schedule_campaign(
            session, owner, shop.campaign_id, local_date=date(2026, 3, 9), local_time=time(9, 0),
            timezone="America/New_York", settings=settings, now=NOW,
        )  # fmt: skip
    assert moved.scheduled_at == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    with uow.session() as session:
        details = session.scalars(
            select(AuditLog.details).where(AuditLog.action == "campaign.schedule")
        ).all()
    assert [d["timezone"] for d in details] == ["Asia/Jakarta", "America/New_York"]
    assert details[1]["previous"] == "2026-03-06T02:00:00+00:00"


def test_times_in_the_past_are_refused_with_a_little_grace(
    uow: UnitOfWork, owner: Actor, settings: Settings, shop: Shop
) -> None:
    def at(hour: int, minute: int) -> None:
        schedule_campaign(
            session, owner, shop.campaign_id, local_date=date(2026, 3, 1),
            local_time=time(hour, minute), timezone="Asia/Jakarta", settings=settings, now=NOW,
        )  # fmt: skip

    with uow.begin() as session, pytest.raises(InvalidInput) as refused:
        at(8, 55)
    assert refused.value.message == (
        "2026-03-01 08:55 in Asia/Jakarta has already passed (it is now 2026-03-01 09:00 "
        "there). Choose a later time, or send now."
    )
    with uow.begin() as session:
        at(8, 59)  # a minute ago: the owner took a moment to click


def test_scheduling_an_unready_campaign_lists_what_is_missing(
    uow: UnitOfWork, owner: Actor, settings: Settings
) -> None:
    with uow.begin() as session:
        draft = builders.campaign(session, "Setengah", message_content={}).id
    with uow.begin() as session, pytest.raises(InvalidInput) as refused:
        schedule_campaign(
            session, owner, draft, local_date=date(2026, 3, 6), local_time=time(9, 0),
            timezone="Asia/Jakarta", settings=settings, now=NOW,
        )  # fmt: skip
    assert [e["message"] for e in refused.value.errors] == [
        "No segment is chosen.",
        "No WhatsApp account is connected; connect one in WhatsApp account.",
        "The message text is empty.",
    ]


def test_a_campaign_cannot_start_after_its_expiry(
    uow: UnitOfWork, owner: Actor, settings: Settings, shop: Shop
) -> None:
    with uow.begin() as session:
        campaign = session.get(Campaign, shop.campaign_id)
        assert campaign is not None
        campaign.expires_at = datetime(2026, 3, 6, 0, 0, tzinfo=UTC)
    with uow.begin() as session, pytest.raises(InvalidInput, match="expires at"):
        schedule_campaign(
            session, owner, shop.campaign_id, local_date=date(2026, 3, 6), local_time=time(9, 0),
            timezone="Asia/Jakarta", settings=settings, now=NOW,
        )  # fmt: skip


def test_due_campaigns_are_the_scheduled_ones_whose_time_came(uow: UnitOfWork) -> None:
    with uow.begin() as session:
        for name, minutes, status in [
            ("Late", -10, "scheduled"), ("Now", 0, "scheduled"), ("Soon", 1, "scheduled"),
            ("Early", -30, "scheduled"), ("Draft", -30, "draft"), ("Done", -30, "completed"),
        ]:  # fmt: skip
            builders.campaign(
                session, name, status=status, scheduled_at=NOW + timedelta(minutes=minutes)
            )
    with uow.session() as session:
        assert [c.name for c in due_campaigns(session, NOW)] == ["Early", "Late", "Now"]


def test_unschedule_and_cancel_before_the_start(
    uow: UnitOfWork, owner: Actor, supervisor: Actor, settings: Settings, shop: Shop
) -> None:
    with uow.begin() as session:
        schedule_campaign(
            session, owner, shop.campaign_id, local_date=date(2026, 3, 6), local_time=time(9, 0),
            timezone="Asia/Jakarta", settings=settings, now=NOW,
        )  # fmt: skip
    with uow.begin() as session, pytest.raises(PermissionDenied):
        unschedule_campaign(session, supervisor, shop.campaign_id)
    with uow.begin() as session:
        draft = unschedule_campaign(session, owner, shop.campaign_id)
    assert draft.status == "draft" and draft.scheduled_at is None
    refusal = "is a draft; only scheduled campaigns can be unscheduled"
    with uow.begin() as session, pytest.raises(Conflict, match=refusal):
        unschedule_campaign(session, owner, shop.campaign_id)
    with uow.begin() as session:
        schedule_campaign(
            session, owner, shop.campaign_id, local_date=date(2026, 3, 6), local_time=time(9, 0),
            timezone="Asia/Jakarta", settings=settings, now=NOW,
        )  # fmt: skip
        cancelled = cancel_campaign(session, owner, shop.campaign_id, settings=settings)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    with uow.session() as session:
        assert due_campaigns(session, datetime(2026, 3, 7, tzinfo=UTC)) == []
