"""Storing, dedupe, failures kept with their error, and retries that leave nothing behind."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from core.bootstrap import Siaran
from core.campaign_counters import Counts
from core.webhooks import Event, due_count, process_safely, read_body, retry_due_events
from core.webhooks.intake import store_events
from sql.schema import ContactPreference, WebhookEvent
from sql.types import utcnow
from tests.core.webhooks import builders
from tests.core.webhooks.builders import BrokenTable
from tests.core.webhooks.payloads import (
    encode,
    envelope,
    inbound_change,
    status,
    statuses_change,
    text_message,
)

pytestmark = pytest.mark.usefixtures("account")


def _store(siaran: Siaran, *bodies: dict) -> list[Event]:
    with siaran.uow.begin() as session:
        stored = store_events(session, [read_body(encode(b)) for b in bodies])
    return [Event(s.event_id, s.body.payload) for s in stored if not s.duplicate]


def _events(siaran: Siaran) -> list[WebhookEvent]:
    with siaran.uow.session() as session:
        return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.received_at)))


def test_the_same_body_is_stored_once(siaran: Siaran) -> None:
    body = envelope(statuses_change(status("wamid.1", "sent", utcnow())))
    raw = encode(body)
    with siaran.uow.begin() as session:
        first = store_events(session, [read_body(raw), read_body(raw)])
    with siaran.uow.begin() as session:
        again = store_events(session, [read_body(raw)])
    assert [s.duplicate for s in first] == [False, True]
    assert again[0].duplicate and again[0].event_id == first[0].event_id
    rows = _events(siaran)
    assert len(rows) == 1
    assert rows[0].raw_body == raw.decode()
    assert (rows[0].state, rows[0].field, rows[0].payload) == ("received", "messages", body)


def test_a_failing_event_is_kept_with_its_error_and_retried(siaran: Siaran, engine: Engine) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 2)
    now = utcnow().replace(microsecond=0)
    fine = envelope(statuses_change(status(sent.wamids[0], "delivered", now)))
    # This one needs contact_preferences (an opt-out) and a status in the same body.
    troubled = envelope(
        statuses_change(status(sent.wamids[1], "delivered", now)),
        inbound_change(
            text_message(
                sent.phones[1].lstrip("+"), "STOP", now, wamid="wamid.S", context=sent.wamids[1]
            )
        ),
    )
    events = _store(siaran, fine, troubled)
    with BrokenTable(engine, "contact_preferences"):
        processed = process_safely(siaran, events)
    assert processed == 1  # the batch failed, then the healthy event went through alone
    rows = {row.id: row for row in _events(siaran)}
    kept = rows[events[1].id]
    assert rows[events[0].id].state == "processed"
    assert (kept.state, kept.attempts) == ("failed", 1)
    assert "contact_preferences" in (kept.error or "")
    assert kept.next_attempt_at is not None and kept.next_attempt_at > utcnow()
    # Nothing of the failed event was applied: not even its status.
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=2, delivered=1)
    # Not due yet; due after its backoff; then applied completely.
    assert retry_due_events(siaran).claimed == 0
    later = kept.next_attempt_at + timedelta(seconds=1)
    with siaran.uow.session() as session:
        assert due_count(session, later) == 1
    retried = retry_due_events(siaran, now=later)
    assert (retried.claimed, retried.processed, retried.failed) == (1, 1, 0)
    row = {r.id: r for r in _events(siaran)}[events[1].id]
    assert (row.state, row.attempts, row.error) == ("processed", 2, None)
    with siaran.uow.session() as session:
        preference = session.get(ContactPreference, sent.contact_ids[1])
    assert preference is not None and preference.opted_out
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=2, delivered=2, replied=1, opted_out=1)


def test_a_failing_retry_backs_off_further(siaran: Siaran, engine: Engine) -> None:
    events = _store(
        siaran,
        envelope(inbound_change(text_message("6281200000001", "STOP", utcnow(), wamid="wamid.Z"))),
    )
    with BrokenTable(engine, "contact_preferences"):
        process_safely(siaran, events)
        first = _events(siaran)[0]
        retry_due_events(siaran, now=first.next_attempt_at + timedelta(seconds=1))
    second = _events(siaran)[0]
    assert (second.state, second.attempts) == ("failed", 2)
    assert first.next_attempt_at - first.received_at < timedelta(seconds=31)  # 30 s
    assert second.next_attempt_at - utcnow() > timedelta(seconds=55)  # then 60 s


def test_events_left_unprocessed_are_picked_up_after_a_grace_period(siaran: Siaran) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    # The receiver stored it and stopped before processing it.
    _store(siaran, envelope(statuses_change(status(sent.wamids[0], "read", utcnow()))))
    assert retry_due_events(siaran).claimed == 0  # maybe still being processed: wait
    report = retry_due_events(siaran, now=utcnow() + timedelta(minutes=3))
    assert (report.claimed, report.processed) == (1, 1)
    assert _events(siaran)[0].state == "processed"
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=1, delivered=1, read=1)


def test_a_claimed_event_is_not_taken_twice(siaran: Siaran) -> None:
    _store(siaran, envelope(statuses_change(status("wamid.nobody", "read", utcnow()))))
    later = utcnow() + timedelta(minutes=3)
    from core.webhooks.processing import _claim

    assert len(_claim(siaran, later, 10)) == 1
    assert _claim(siaran, later, 10) == []  # the first run holds it for a while
