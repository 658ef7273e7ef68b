"""Status webhooks move messages forward only and keep the counters equal to the rows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.bootstrap import Siaran
from core.campaign_counters import Counts
from sql.schema import ContactPreference, WhatsAppAccount
from sql.types import utcnow
from tests.core.webhooks import builders
from tests.core.webhooks.conftest import Deliver
from tests.core.webhooks.payloads import envelope, error, status, statuses_change

pytestmark = pytest.mark.usefixtures("account")


def _body(*items: dict) -> dict:
    return envelope(statuses_change(*items))


def test_sent_delivered_read_stamp_times_and_count_once(siaran: Siaran, deliver: Deliver) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 2)
    t0 = utcnow().replace(microsecond=0)
    w = sent.wamids
    report = deliver(
        _body(status(w[0], "delivered", t0), status(w[1], "delivered", t0)),
        _body(status(w[0], "read", t0 + timedelta(seconds=30))),
    )
    assert report.statuses.applied == 3
    with siaran.uow.session() as session:
        first = builders.message(session, sent.message_ids[0])
        second = builders.message(session, sent.message_ids[1])
    assert (first.status, first.delivered_at, first.read_at) == (
        "read",
        t0,
        t0 + timedelta(seconds=30),
    )
    assert (second.status, second.delivered_at, second.read_at) == ("delivered", t0, None)
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=2, delivered=2, read=1)


def test_read_before_delivered_implies_delivered_once(siaran: Siaran, deliver: Deliver) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    t0 = utcnow().replace(microsecond=0)
    wamid = sent.wamids[0]
    deliver(_body(status(wamid, "read", t0 + timedelta(seconds=20))))
    with siaran.uow.session() as session:
        row = builders.message(session, sent.message_ids[0])
    assert (row.status, row.delivered_at, row.read_at) == (
        "read",
        t0 + timedelta(seconds=20),
        t0 + timedelta(seconds=20),
    )
    # The late "delivered" moves nothing back, counts nothing again, and corrects the time.
    report = deliver(_body(status(wamid, "delivered", t0 + timedelta(seconds=5))))
    with siaran.uow.session() as session:
        row = builders.message(session, sent.message_ids[0])
    assert row.status == "read"
    assert row.delivered_at == t0 + timedelta(seconds=5)
    assert report.statuses.applied == 1
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=1, delivered=1, read=1)


def test_duplicates_and_late_statuses_change_nothing(siaran: Siaran, deliver: Deliver) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    t0 = utcnow().replace(microsecond=0)
    wamid = sent.wamids[0]
    deliver(_body(status(wamid, "delivered", t0), status(wamid, "read", t0)))
    report = deliver(
        _body(status(wamid, "read", t0), status(wamid, "delivered", t0), status(wamid, "sent", t0))
    )
    assert report.statuses.applied == 0
    assert report.statuses.ignored == 3
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=1, delivered=1, read=1)


def test_a_message_sent_but_not_yet_recorded_is_matched_by_callback_data(
    siaran: Siaran, deliver: Deliver
) -> None:
    # The sender marked it "sending", called WhatsApp, and crashed before recording the wamid.
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1, status="sending", with_wamid=False)
        builders.message(session, sent.message_ids[0]).claimed_by = "worker-that-died"
    t0 = utcnow().replace(microsecond=0)
    callback = str(sent.message_ids[0])
    deliver(_body(status("wamid.NEW1", "sent", t0, callback=callback)))
    with siaran.uow.session() as session:
        row = builders.message(session, sent.message_ids[0])
        preference = session.get(ContactPreference, sent.contact_ids[0])
    assert (row.status, row.wamid, row.sent_at) == ("sent", "wamid.NEW1", t0)
    assert (row.claimed_by, row.next_attempt_at) == (None, None)  # nothing left to reconcile
    assert preference is not None and preference.last_broadcast_at == t0  # the cooldown counts it
    # From now on the wamid alone finds it.
    deliver(_body(status("wamid.NEW1", "delivered", t0 + timedelta(seconds=2))))
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=1, delivered=1)


def test_unknown_messages_are_ignored(siaran: Siaran, deliver: Deliver) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    report = deliver(
        _body(
            status("wamid.INBOX-REPLY", "delivered", utcnow()),
            status("wamid.OTHER", "read", utcnow(), callback="not-a-uuid"),
        )
    )
    assert (report.statuses.unknown, report.statuses.applied) == (2, 0)
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=1)


def test_failed_records_metas_error_and_counts(siaran: Siaran, deliver: Deliver) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    t0 = utcnow().replace(microsecond=0)
    failure = error(131026, "Message undeliverable", details="Message Undeliverable.")
    deliver(_body(status(sent.wamids[0], "failed", t0, errors=[failure])))
    with siaran.uow.session() as session:
        row = builders.message(session, sent.message_ids[0])
    assert (row.status, row.failed_at, row.error_code) == ("failed", t0, 131026)
    assert row.error_title == "Message undeliverable"
    assert row.error_category == "recipient"
    assert "Message Undeliverable." in row.error_message
    # Nothing after failed moves it.
    deliver(_body(status(sent.wamids[0], "delivered", t0 + timedelta(seconds=1))))
    with siaran.uow.session() as session:
        assert builders.message(session, sent.message_ids[0]).status == "failed"
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=1, failed=1)


def test_sent_after_failed_records_that_it_left(siaran: Siaran, deliver: Deliver) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1, status="sending")
    t0 = utcnow().replace(microsecond=0)
    wamid = sent.wamids[0]
    deliver(_body(status(wamid, "failed", t0 + timedelta(seconds=3), errors=[error(131026, "x")])))
    deliver(_body(status(wamid, "sent", t0)))
    with siaran.uow.session() as session:
        row = builders.message(session, sent.message_ids[0])
    assert (row.status, row.sent_at) == ("failed", t0)
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=1, failed=1)


def test_marketing_opt_out_131050_opts_the_contact_out(siaran: Siaran, deliver: Deliver) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    t0 = utcnow().replace(microsecond=0)
    stop = error(
        131050,
        "Unable to deliver the message. This recipient has chosen to stop "
        "receiving marketing messages on WhatsApp from your business.",
    )
    deliver(_body(status(sent.wamids[0], "failed", t0, errors=[stop])))
    with siaran.uow.session() as session:
        preference = session.get(ContactPreference, sent.contact_ids[0])
        row = builders.message(session, sent.message_ids[0])
    assert preference is not None and preference.opted_out
    assert (preference.opt_out_source, preference.opted_out_at) == ("meta_marketing_opt_out", t0)
    assert (row.status, row.error_code, row.error_category) == ("failed", 131050, "recipient")
    stored, truth = builders.counters(siaran, sent.campaign_id)
    # The customer stopped marketing before this message: not this campaign's opt-out.
    assert stored == truth == Counts(sent=1, failed=1)


def _engagement_limited() -> dict:
    return error(131049, "This message was not delivered to maintain healthy ecosystem engagement.")


def test_engagement_limit_131049_is_retried_hours_later(siaran: Siaran, deliver: Deliver) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    t0 = utcnow().replace(microsecond=0)
    wamid = sent.wamids[0]
    report = deliver(_body(status(wamid, "failed", t0, errors=[_engagement_limited()])))
    assert report.statuses.requeued == 1
    with siaran.uow.session() as session:
        row = builders.message(session, sent.message_ids[0])
    assert (row.status, row.wamid, row.sent_at, row.error_code) == ("pending", None, None, 131049)
    assert row.error_category == "transient"
    assert row.next_attempt_at - utcnow() > timedelta(hours=2)  # 6 h with jitter: 3–6 h
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts()  # it will be sent (and counted) again
    # Echoes of the held-back attempt, by wamid or callback, are stale: nothing moves.
    late = deliver(
        _body(
            status(wamid, "failed", t0, errors=[_engagement_limited()]),
            status(wamid, "sent", t0 - timedelta(seconds=1), callback=str(sent.message_ids[0])),
        )
    )
    assert late.statuses.applied == 0
    with siaran.uow.session() as session:
        assert builders.message(session, sent.message_ids[0]).status == "pending"
    # The next attempt's news is accepted by callback before the sender records its wamid.
    deliver(
        _body(
            status(
                "wamid.RETRY", "sent", t0 + timedelta(hours=6), callback=str(sent.message_ids[0])
            )
        )
    )
    with siaran.uow.session() as session:
        row = builders.message(session, sent.message_ids[0])
    assert (row.status, row.wamid) == ("sent", "wamid.RETRY")
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=1)


@pytest.mark.parametrize("campaign_status", ["completed", "cancelled"])
def test_engagement_limit_stays_failed_when_the_campaign_is_over(
    siaran: Siaran, deliver: Deliver, campaign_status: str
) -> None:
    with siaran.uow.begin() as session:
        owner = builders.campaign(session, status=campaign_status)
        sent = builders.sent_campaign(session, 1, campaign_row=owner)
    deliver(_body(status(sent.wamids[0], "failed", utcnow(), errors=[_engagement_limited()])))
    with siaran.uow.session() as session:
        assert builders.message(session, sent.message_ids[0]).status == "failed"
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=1, failed=1)


def test_engagement_limit_stays_failed_past_the_campaign_deadline(
    siaran: Siaran, deliver: Deliver
) -> None:
    with siaran.uow.begin() as session:
        owner = builders.campaign(session, expires_at=utcnow() + timedelta(hours=1))
        sent = builders.sent_campaign(session, 1, campaign_row=owner)
    deliver(_body(status(sent.wamids[0], "failed", utcnow(), errors=[_engagement_limited()])))
    with siaran.uow.session() as session:
        assert builders.message(session, sent.message_ids[0]).status == "failed"


def test_engagement_limit_gives_up_after_the_allowed_attempts(
    siaran: Siaran, deliver: Deliver, account: WhatsAppAccount
) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
        builders.message(session, sent.message_ids[0]).attempts = 3
    deliver(_body(status(sent.wamids[0], "failed", utcnow(), errors=[_engagement_limited()])))
    with siaran.uow.session() as session:
        assert builders.message(session, sent.message_ids[0]).status == "failed"
