"""Steering a campaign while it sends: pause, resume, cancel, expiry and rate, within a second.

Times are compared at the sandbox: ``accepted_at`` is when WhatsApp (the sandbox) accepted
each message, on the same wall clock as the moment the owner's action was committed.
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import update

from core.bootstrap import Siaran
from core.campaigns import cancel_campaign, pause_campaign, resume_campaign
from core.permissions import Actor
from sql.schema import Campaign
from sql.types import utcnow
from tests.sender.harness import Rig, wait_for


def accepted_times(rig: Rig) -> list[float]:
    return sorted(m["accepted_at"] for m in rig.accepted())


def test_pause_and_resume_take_effect_within_a_second(
    rig: Rig, siaran: Siaran, owner: Actor
) -> None:
    campaign = rig.campaign(300, rate=20)
    running = rig.run_in_thread(campaign)
    wait_for(lambda: rig.counters()["accepted"] >= 10, what="the first sends")

    with siaran.uow.begin() as session:
        pause_campaign(session, owner, campaign, settings=siaran.settings)
    paused_at = time.time()
    time.sleep(1.5)
    sent_while_paused = [t for t in accepted_times(rig) if t > paused_at + 1.0]
    assert sent_while_paused == []
    assert "sending" not in rig.statuses(campaign), "unsent claims were given back"
    before_resume = rig.counters()["accepted"]

    with siaran.uow.begin() as session:
        resume_campaign(session, owner, campaign)
    resumed_at = time.time()
    wait_for(lambda: rig.counters()["accepted"] > before_resume, timeout=1.0, what="a send")
    first_after = min(t for t in accepted_times(rig) if t > paused_at + 1.0)
    assert first_after - resumed_at < 1.0

    with siaran.uow.begin() as session:
        cancel_campaign(session, owner, campaign, settings=siaran.settings)
    report = running.join(timeout=10)
    assert report.status == "cancelled"
    assert sorted(rig.accepted_ids().values()) == [1] * rig.counters()["accepted"]


def test_cancel_stops_sending_within_a_second_and_cancels_the_rest(
    rig: Rig, siaran: Siaran, owner: Actor
) -> None:
    campaign = rig.campaign(200, rate=25)
    running = rig.run_in_thread(campaign)
    wait_for(lambda: rig.counters()["accepted"] >= 15, what="the first sends")

    with siaran.uow.begin() as session:
        cancel_campaign(session, owner, campaign, settings=siaran.settings, reason="Wrong price")
    cancelled_at = time.time()
    report = running.join(timeout=5)
    returned_after = time.time() - cancelled_at

    assert (report.status, report.reason, report.status_reason) == (
        "cancelled", "cancelled", "Wrong price",
    )  # fmt: skip
    assert returned_after < 1.5
    assert max(accepted_times(rig)) < cancelled_at + 1.0
    statuses = rig.statuses(campaign)
    assert set(statuses) == {"sent", "cancelled"}
    assert statuses["sent"] == rig.counters()["accepted"]
    assert statuses["cancelled"] == 200 - statuses["sent"]


def test_unsent_messages_expire_at_the_campaigns_deadline(rig: Rig) -> None:
    deadline = utcnow() + timedelta(seconds=1.5)
    campaign = rig.campaign(100, rate=20, expires_at=deadline)

    report = rig.run(campaign)

    assert report.status == "completed"
    statuses = rig.statuses(campaign)
    assert set(statuses) == {"sent", "expired"}
    assert 15 <= statuses["sent"] <= 45
    assert max(accepted_times(rig)) < deadline.timestamp() + 1.0
    assert report.progress is not None and report.progress.expired == statuses["expired"]


def test_a_rate_change_applies_while_sending(rig: Rig, siaran: Siaran) -> None:
    campaign = rig.campaign(140, rate=10)
    running = rig.run_in_thread(campaign)
    wait_for(lambda: rig.counters()["accepted"] >= 5, what="the first sends")
    time.sleep(2)
    with siaran.uow.begin() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign).values(rate_limit=40))
    changed_at = time.time()

    assert running.join(timeout=20).status == "completed"

    times = accepted_times(rig)
    slow = [t for t in times if t < changed_at]
    fast = [t for t in times if changed_at + 1.5 <= t < changed_at + 2.5]
    assert 15 <= len(slow) <= 35, "about 10 per second before"
    assert len(fast) >= 30, "about 40 per second a second later"


def test_a_campaign_paused_before_its_run_waits_then_returns_when_told(
    rig: Rig, siaran: Siaran
) -> None:
    campaign = rig.campaign(5, status="paused")
    started = time.monotonic()
    report = rig.run(campaign, paused_timeout=0.5)
    assert (report.status, report.reason) == ("paused", "paused")
    assert 0.5 <= time.monotonic() - started < 3
    assert rig.counters()["accepted"] == 0
    assert rig.statuses(campaign) == {"pending": 5}
