"""The sender over real HTTP against the sandbox: launch to last message, and every error class."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.bootstrap import Siaran
from core.campaigns import create_campaign, launch_campaign, resume_campaign
from core.permissions import Actor
from sender import progress
from sql.schema import (
    CampaignMessage,
    Contact,
    ContactPreference,
    Notification,
    Segment,
    SegmentMember,
)
from sql.types import utcnow
from tests.sender.conftest import tune
from tests.sender.harness import FaultProxy, Rig, Worker, phone, wait_for


def test_a_launched_campaign_reaches_every_recipient_exactly_once(
    rig: Rig, siaran: Siaran, owner: Actor
) -> None:
    now = utcnow()
    with siaran.uow.begin() as session:
        people = [Contact(name=f"Ani {i}", phone=phone(7, i), custom_fields={}) for i in range(25)]
        session.add_all(people)
        everyone = {"type": "all", "conditions": []}
        segment = Segment(name="Pelanggan", criteria=everyone, kind="static")
        session.add(segment)
        session.flush()
        session.add_all(
            SegmentMember(segment_id=segment.id, contact_id=p.id, snapshot_at=now) for p in people
        )
        campaign = create_campaign(
            session, owner,
            {"name": "Promo", "segment_id": segment.id, "whatsapp_account_id": rig.account_id,
             "message_content": {"body": "Halo {name}, ada promo!"}, "rate_limit": 40},
        )  # fmt: skip
        launch_campaign(session, owner, campaign.id, settings=siaran.settings)
        campaign_id = campaign.id
    seen: list[progress.Progress] = []

    report = rig.run(campaign_id, on_progress=seen.append)

    assert (report.status, report.reason) == ("completed", "completed")
    accepted = rig.accepted()
    assert len(accepted) == 25
    by_id = {m["biz_opaque_callback_data"]: m for m in accepted}
    messages = rig.messages(campaign_id)
    assert set(by_id) == {str(m.id) for m in messages}
    for message in messages:
        assert message.status == "sent"
        assert message.wamid == by_id[str(message.id)]["id"]
        assert message.attempts == 1 and message.claimed_by is None
        assert by_id[str(message.id)]["text"].startswith("Halo Ani ")
    assert rig.get(campaign_id).sent_count == 25
    with siaran.uow.session() as session:
        cooled = session.scalars(select(ContactPreference.last_broadcast_at)).all()
        assert len(cooled) == 25 and all(cooled)
        kinds = set(session.scalars(select(Notification.kind)))
        saved = progress.load(session, campaign_id)
    assert {"campaign_started", "campaign_completed"} <= kinds
    assert saved is not None and (saved.sent, saved.total, saved.queued) == (25, 25, 0)
    assert report.progress is not None and report.progress.fraction == 1.0
    assert seen and seen[-1].sent == 25


def test_the_sender_records_sends_itself_when_no_webhook_comes(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(webhooks={"url": None})
    campaign = rig.campaign(30, rate=50)
    assert rig.run(campaign).status == "completed"
    assert rig.statuses(campaign) == {"sent": 30}
    assert sorted(rig.accepted_ids().values()) == [1] * 30
    assert all(m.wamid and m.sent_at for m in rig.messages(campaign))


def test_transient_errors_are_retried_with_backoff(
    rig: Rig, proxy: FaultProxy, siaran: Siaran
) -> None:
    tune(siaran, sender_max_attempts=2)
    campaign = rig.campaign(6, rate=50)
    flaky, broken = phone(0, 1).lstrip("+"), phone(0, 2).lstrip("+")
    proxy.faults[flaky] = [(500, 131000)]  # fails once
    proxy.always[broken] = (503, 131016)  # never recovers

    report = rig.run(campaign)

    assert report.status == "completed"
    assert proxy.seen[flaky] == 2 and proxy.seen[broken] == 2
    by_phone = {m.phone.lstrip("+"): m for m in rig.messages(campaign)}
    assert (by_phone[flaky].status, by_phone[flaky].attempts) == ("sent", 2)
    gave_up = by_phone[broken]
    assert (gave_up.status, gave_up.attempts, gave_up.error_code) == ("failed", 2, 131016)
    assert gave_up.error_message.startswith("Gave up after 2 attempts.")
    assert rig.statuses(campaign) == {"sent": 5, "failed": 1}
    assert rig.get(campaign).failed_count == 1


def test_a_send_whose_answer_was_lost_is_confirmed_by_its_webhook_not_resent(
    rig: Rig, proxy: FaultProxy, siaran: Siaran
) -> None:
    tune(siaran, sender_reconcile_grace_seconds=1.0)
    campaign = rig.campaign(4, rate=50)
    lost, dropped = phone(0, 1).lstrip("+"), phone(0, 2).lstrip("+")
    proxy.faults[lost] = ["lose"]  # WhatsApp got it; the answer never came back
    proxy.faults[dropped] = ["drop"]  # the connection died before WhatsApp got it

    assert rig.run(campaign).status == "completed"

    accepted = rig.accepted_ids()
    assert sorted(accepted.values()) == [1, 1, 1, 1], "every recipient exactly once"
    by_phone = {m.phone.lstrip("+"): m for m in rig.messages(campaign)}
    assert (by_phone[lost].status, by_phone[lost].attempts) == ("sent", 1)
    assert (by_phone[dropped].status, by_phone[dropped].attempts) == ("sent", 2)
    assert proxy.seen[lost] == 1 and proxy.seen[dropped] == 2


def test_throttling_slows_the_number_down(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(throughput=40, throughput_per_second=10)  # WhatsApp allows 10/s, not 40
    campaign = rig.campaign(50, rate=40)

    assert rig.run(campaign).status == "completed"

    counters = rig.counters()
    assert counters["accepted"] == 50
    assert sorted(rig.accepted_ids().values()) == [1] * 50
    assert max(rig.per_second().values()) <= 10
    # Blind retries at 40/s against 10/s would be refused three times in four; slowing down
    # after the first refusals keeps it far lower.
    assert 0 < counters["throughput_limited"] < counters["accepted"]
    assert all(m.status == "sent" for m in rig.messages(campaign))


def test_the_pair_rate_limit_delays_only_that_recipient(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(pair_rate_burst=1, pair_rate_interval_s=2.0)
    shared = phone(9, 0)
    first = rig.campaign(10, rate=50, phones=[shared] + [phone(0, i) for i in range(1, 10)])
    second = rig.campaign(10, rate=50, phones=[shared] + [phone(1, i) for i in range(1, 10)])
    started = utcnow()
    worker = Worker(rig)  # one sender for both campaigns, alternating between them
    wait_for(lambda: {rig.get(c).status for c in (first, second)} == {"completed"}, timeout=30)
    worker.stop()

    assert rig.counters()["pair_limited"] >= 1
    assert rig.control("GET", "/messages", params={"to": shared.lstrip("+")})["data"].__len__() == 2
    others = [m for c in (first, second) for m in rig.messages(c) if m.phone != shared]
    assert all(m.attempts == 1 for m in others), "other recipients were not held back"
    assert max(m.sent_at for m in others) - started < timedelta(seconds=2)
    retried = [m for c in (first, second) for m in rig.messages(c) if m.attempts == 2]
    assert len(retried) == 1 and retried[0].phone == shared


def test_an_expired_token_pauses_the_campaign_with_the_reason_and_resume_continues(
    rig: Rig, owner: Actor, siaran: Siaran
) -> None:
    campaign = rig.campaign(10, rate=50)
    rig.configure(access_token="rotated-by-meta")
    running = rig.run_in_thread(campaign)
    wait_for(lambda: rig.get(campaign).status == "paused", what="the pause")
    paused = rig.get(campaign)
    assert "access token has expired or was revoked" in paused.status_reason
    assert "WhatsApp error 190" in paused.status_reason
    # Answers in flight are recorded, claimed messages given back, all within a second.
    wait_for(lambda: rig.statuses(campaign) == {"pending": 10}, timeout=1.0, what="settling")
    messages = rig.messages(campaign)
    assert all(m.attempts == 0 for m in messages), "a campaign-fatal refusal is no attempt"
    assert any(m.error_code == 190 for m in messages)

    rig.configure(access_token="sender-test-token")  # the owner reconnected
    with siaran.uow.begin() as session:
        resume_campaign(session, owner, campaign)
    report = running.join()

    assert report.status == "completed"
    assert rig.statuses(campaign) == {"sent": 10}
    assert all(m.error_code is None for m in rig.messages(campaign))


def test_a_paused_template_pauses_the_campaign(rig: Rig) -> None:
    added = rig.control(
        "POST", "/templates",
        json={"name": "promo_kilat", "language": "id", "category": "MARKETING",
              "components": [{"type": "BODY", "text": "Promo kilat hari ini!"}]},
    )["data"][0]  # fmt: skip

    def template(to: str, message_id) -> dict:
        return {"messaging_product": "whatsapp", "to": to.lstrip("+"), "type": "template",
                "template": {"name": "promo_kilat", "language": {"code": "id"}},
                "biz_opaque_callback_data": str(message_id)}  # fmt: skip

    campaign = rig.campaign(40, rate=20, payload=template, message_type="template")
    running = rig.run_in_thread(campaign, paused_timeout=0)
    wait_for(lambda: rig.statuses(campaign).get("sent", 0) >= 5, what="some sends")
    rig.control("POST", f"/templates/{added['id']}/status", json={"status": "PAUSED"})

    report = running.join()

    assert (report.status, report.reason) == ("paused", "paused")
    assert "paused the template" in report.status_reason
    statuses = rig.statuses(campaign)
    assert statuses["sent"] >= 5 and statuses["pending"] >= 1
    assert set(statuses) == {"sent", "pending"}


def test_a_customer_who_stopped_marketing_is_opted_out(
    rig: Rig, proxy: FaultProxy, siaran: Siaran
) -> None:
    campaign = rig.campaign(3, rate=50)
    stopped = phone(0, 1).lstrip("+")
    proxy.faults[stopped] = [(400, 131050)]

    assert rig.run(campaign).status == "completed"

    message = next(m for m in rig.messages(campaign) if m.phone.lstrip("+") == stopped)
    assert (message.status, message.error_code) == ("failed", 131050)
    with siaran.uow.session() as session:
        preference = session.get(ContactPreference, message.contact_id)
    assert preference is not None and preference.opted_out


def test_the_circuit_breaker_pauses_a_campaign_failing_too_often(rig: Rig, siaran: Siaran) -> None:
    tune(siaran, sender_breaker_min_messages=20, sender_breaker_failure_rate=0.3)
    # Every other recipient is a number WhatsApp rejects at once (131009: not 6-15 digits).
    numbers = [phone(0, i) if i % 2 else f"+{1000 + i}" for i in range(200)]
    campaign = rig.campaign(200, rate=50, phones=numbers)

    report = rig.run(campaign, paused_timeout=0)

    assert (report.status, report.reason) == ("paused", "paused")
    assert "quality circuit breaker" in report.status_reason
    statuses = rig.statuses(campaign)
    assert statuses["failed"] >= 10
    assert statuses["pending"] > 100, "it stopped early"
    with siaran.uow.session() as session:
        failed = session.scalars(
            select(CampaignMessage).where(CampaignMessage.status == "failed")
        ).first()
    assert failed is not None and failed.error_code == 131009


@pytest.mark.parametrize("status", ["draft", "scheduled"])
def test_a_campaign_must_be_launched_before_it_is_sent(rig: Rig, status: str) -> None:
    from core.errors import Conflict

    campaign = rig.campaign(1, status=status)
    with pytest.raises(Conflict, match="launch it before sending"):
        rig.run(campaign)
