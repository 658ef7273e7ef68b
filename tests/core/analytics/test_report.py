"""Each metric on the hand-computed scenario, from the warehouse and live, on both engines."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from core.analytics import report
from core.analytics.refresh import refresh
from core.analytics.warehouse import Warehouse
from core.bootstrap import Siaran
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.permissions import Actor
from tests.core.analytics import scenario
from tests.core.analytics.scenario import (
    EXPECTED_DAILY,
    EXPECTED_HOURLY,
    EXPECTED_LATENCY,
    EXPECTED_METRICS,
    EXPECTED_STATUSES,
)

EVENTS = ("sent", "delivered", "read", "replied", "failed", "opted_out")
SOURCES = ["live", "warehouse"]


def prepare(source: str, siaran: Siaran, warehouse: Warehouse) -> None:
    if source == "warehouse":
        refresh(warehouse, siaran.engine, siaran.settings)


@pytest.mark.parametrize("source", SOURCES)
def test_every_metric_equals_the_hand_computed_value(
    source: str, siaran: Siaran, owner: Actor, shop: scenario.Scenario, warehouse: Warehouse
) -> None:
    prepare(source, siaran, warehouse)
    with siaran.uow.session() as session:
        found = report.campaign_report(
            session, owner, shop.campaign_id, warehouse=warehouse, settings=siaran.settings
        )
    assert found.source.kind == source
    assert found.name == "Promo Ramadan" and found.timezone == "Asia/Jakarta"
    for name, value in EXPECTED_METRICS.items():
        assert getattr(found.metrics, name) == pytest.approx(value), name
    assert found.statuses == EXPECTED_STATUSES
    latency = {b.label: b.replies for b in found.reply_latency if b.replies}
    assert latency == EXPECTED_LATENCY
    assert len(found.reply_latency) == 9
    assert found.first_sent_at == scenario.T0
    assert found.last_activity_at == scenario.T0 + timedelta(hours=27)


@pytest.mark.parametrize("source", SOURCES)
def test_timeline_hourly_and_daily_on_the_campaigns_clock(
    source: str, siaran: Siaran, owner: Actor, shop: scenario.Scenario, warehouse: Warehouse
) -> None:
    prepare(source, siaran, warehouse)
    sources = {"warehouse": warehouse, "settings": siaran.settings}
    with siaran.uow.session() as session:
        hourly = report.timeline(session, owner, shop.campaign_id, "hourly", **sources)
        daily = report.timeline(session, owner, shop.campaign_id, "daily", **sources)
    assert hourly.source.kind == source and hourly.timezone == "Asia/Jakarta"
    # Gaps are filled: Monday 09:00 to Tuesday 12:00 local is 28 hours.
    assert len(hourly.points) == 28
    busy = [tuple([p["period"], *(p[e] for e in EVENTS)]) for p in hourly.points
            if any(p[e] for e in EVENTS)]  # fmt: skip
    assert busy == EXPECTED_HOURLY
    assert [tuple([p["period"], *(p[e] for e in EVENTS)]) for p in daily.points] == EXPECTED_DAILY


@pytest.mark.parametrize("source", SOURCES)
def test_engagement_by_hour_of_day_and_weekday(
    source: str, siaran: Siaran, owner: Actor, shop: scenario.Scenario, warehouse: Warehouse
) -> None:
    prepare(source, siaran, warehouse)
    with siaran.uow.session() as session:
        found = report.engagement(
            session, owner, shop.campaign_id, warehouse=warehouse, settings=siaran.settings
        )
    assert len(found.by_hour) == 24 and len(found.by_weekday) == 7
    by_hour = {row["hour_of_day"]: row for row in found.by_hour}
    assert (by_hour[9]["sent"], by_hour[9]["read"], by_hour[8]["read"]) == (8, 1, 1)
    assert (by_hour[11]["replied"], by_hour[12]["opted_out"]) == (2, 2)
    by_day = {row["day_name"]: row for row in found.by_weekday}
    assert (by_day["Monday"]["read"], by_day["Tuesday"]["read"], by_day["Sunday"]["read"]) == (
        2, 1, 0,
    )  # fmt: skip


@pytest.mark.parametrize("source", SOURCES)
def test_a_campaign_without_messages_has_zeros_and_null_rates(
    source: str, siaran: Siaran, owner: Actor, shop: scenario.Scenario, warehouse: Warehouse
) -> None:
    prepare(source, siaran, warehouse)
    sources = {"warehouse": warehouse, "settings": siaran.settings}
    with siaran.uow.session() as session:
        found = report.campaign_report(session, owner, shop.draft_id, **sources)
        points = report.timeline(session, owner, shop.draft_id, "daily", **sources).points
        hours = report.engagement(session, owner, shop.draft_id, **sources).by_hour
    assert found.metrics.total_recipients == 0 and found.metrics.sent == 0
    assert found.metrics.open_rate is None and found.metrics.reply_rate is None
    assert found.metrics.median_reply_seconds is None
    assert set(found.statuses.values()) == {0}
    assert [b.replies for b in found.reply_latency] == [0] * 9
    assert points == []
    assert len(hours) == 24 and all(row["sent"] == 0 for row in hours)


@pytest.mark.parametrize("source", SOURCES)
def test_campaigns_do_not_mix(
    source: str, siaran: Siaran, owner: Actor, shop: scenario.Scenario, warehouse: Warehouse
) -> None:
    prepare(source, siaran, warehouse)
    with siaran.uow.session() as session:
        other = report.campaign_report(
            session, owner, shop.other_id, warehouse=warehouse, settings=siaran.settings
        )
    assert (other.metrics.total_recipients, other.metrics.delivered) == (1, 1)
    assert other.metrics.delivery_rate == 1.0


def test_a_shorter_attribution_window_is_computed_live_with_fewer_opt_outs(
    siaran: Siaran, owner: Actor, shop: scenario.Scenario, warehouse: Warehouse
) -> None:
    refresh(warehouse, siaran.engine, siaran.settings)
    shorter = siaran.settings.model_copy(update={"reply_attribution_hours": 2.0})
    with siaran.uow.session() as session:
        found = report.campaign_report(
            session, owner, shop.campaign_id, warehouse=warehouse, settings=shorter
        )
    # The warehouse was built with 72 h: not used. Both opt-outs are after 2 h.
    assert found.source.kind == "live"
    assert found.metrics.opted_out == 0 and found.metrics.opt_out_rate == 0


def test_a_stale_warehouse_gives_way_to_live_numbers(
    siaran: Siaran, owner: Actor, shop: scenario.Scenario, warehouse: Warehouse
) -> None:
    refresh(warehouse, siaran.engine, siaran.settings)
    later = report.utcnow() + report.MAX_AGE + timedelta(minutes=1)
    sources = {"warehouse": warehouse, "settings": siaran.settings, "now": later}
    with siaran.uow.session() as session:
        # Nothing changed since the load: the old warehouse is still the truth.
        assert report.campaign_report(session, owner, shop.campaign_id, **sources).source.kind \
            == "warehouse"  # fmt: skip
    with siaran.uow.begin() as session:
        message = session.get(scenario.CampaignMessage, shop.messages["m6"])
        message.delivered_at, message.status = scenario.T0 + timedelta(hours=1), "delivered"
    with siaran.uow.session() as session:
        found = report.campaign_report(session, owner, shop.campaign_id, **sources)
    assert found.source.kind == "live" and found.metrics.delivered == 7


def test_reading_analytics_needs_the_analytics_permission(
    siaran: Siaran, supervisor: Actor, agent: Actor, shop: scenario.Scenario, warehouse: Warehouse
) -> None:
    sources = {"warehouse": warehouse, "settings": siaran.settings}
    with siaran.uow.session() as session:
        assert report.campaign_report(session, supervisor, shop.campaign_id, **sources).metrics
        with pytest.raises(PermissionDenied):
            report.campaign_report(session, agent, shop.campaign_id, **sources)
        with pytest.raises(PermissionDenied):
            report.timeline(session, agent, shop.campaign_id, "daily", **sources)
        with pytest.raises(NotFound):
            report.campaign_report(session, supervisor, uuid.uuid4(), **sources)
        with pytest.raises(InvalidInput, match="hourly or daily"):
            report.timeline(session, supervisor, shop.campaign_id, "weekly", **sources)
