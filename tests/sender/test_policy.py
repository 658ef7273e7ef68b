"""What the sender does after each class of error, and when the quality breaker trips."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from sender.breaker import QualityBreaker
from sender.errors import NetworkError, classify
from sender.policy import decide

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def fate(code: int | None, attempts: int = 1, http_status: int | None = 400, **kwargs):
    error = kwargs.pop("error", None) or classify(code, http_status)
    return decide(
        error, attempts, NOW, max_attempts=5, reconcile_grace=600, rng=random.Random(7), **kwargs
    )


@pytest.mark.parametrize("code", [190, 0, 10, 131031, 131048, 132001, 132015, 132016, 133010])
def test_campaign_fatal_errors_pause_the_campaign(code: int) -> None:
    assert fate(code).verdict == "fatal"


@pytest.mark.parametrize("code", [131026, 131047, 131051, 131052, 100, 131009, 131021, 132005])
def test_permanent_errors_fail_the_message(code: int) -> None:
    decision = fate(code)
    assert decision.verdict == "failed"
    assert not decision.opted_out


def test_a_customer_who_stopped_marketing_is_opted_out() -> None:
    decision = fate(131050)
    assert (decision.verdict, decision.opted_out) == ("failed", True)


@pytest.mark.parametrize("code", [131000, 1, 2, 131016, 131057])
def test_transient_errors_retry_with_growing_jittered_waits(code: int) -> None:
    waits = [fate(code, attempt, 500).next_attempt_at - NOW for attempt in (1, 2, 3, 4)]
    assert all(w > timedelta(0) for w in waits)
    assert waits[0] <= timedelta(seconds=2) < waits[3]
    assert fate(code, 1, 500).verdict == "retry"


def test_transient_errors_give_up_at_the_attempt_setting() -> None:
    assert fate(131000, 4, 500).verdict == "retry"
    decision = fate(131000, 5, 500)
    assert decision.verdict == "failed"
    assert decision.gave_up == "Gave up after 5 attempts."


def test_the_engagement_limit_is_retried_hours_later() -> None:
    decision = fate(131049)
    assert decision.verdict == "retry"
    assert decision.next_attempt_at - NOW >= timedelta(hours=3)


def test_throttling_waits_and_does_not_use_up_the_attempts() -> None:
    decision = fate(130429, 7, 429)
    assert decision.verdict == "retry"
    assert decision.next_attempt_at - NOW < timedelta(minutes=2)


def test_the_pair_rate_limit_retries_that_recipient_seconds_later() -> None:
    decision = fate(131056)
    assert decision.verdict == "retry"
    assert timedelta(seconds=3) <= decision.next_attempt_at - NOW <= timedelta(seconds=6)


def test_an_unanswered_send_waits_for_its_webhook_instead_of_resending() -> None:
    lost = NetworkError("timed out after the request was sent", outcome_unknown=True)
    decision = fate(None, error=lost)
    assert decision.verdict == "unconfirmed"
    assert decision.next_attempt_at == NOW + timedelta(seconds=600)


def test_a_connection_that_never_opened_is_retried_at_once() -> None:
    refused = NetworkError("connection refused", outcome_unknown=False)
    assert fate(None, error=refused).verdict == "retry"


# --- the quality circuit breaker ----------------------------------------------------------


def breaker() -> QualityBreaker:
    return QualityBreaker(window_seconds=60, min_messages=20, failure_rate=0.25)


def test_the_breaker_trips_when_the_failed_share_reaches_the_threshold() -> None:
    watch = breaker()
    assert watch.observe(0, sent=0, failed=0) is None
    assert watch.observe(10, sent=15, failed=4) is None  # 19 finished: below the minimum
    trip = watch.observe(20, sent=30, failed=10)
    assert trip is not None
    assert (trip.failed, trip.finished) == (10, 40)
    assert "10 of 40 messages failed in the last 1 minutes" in trip.reason
    assert "25%" in trip.reason


def test_the_breaker_ignores_failures_older_than_the_window() -> None:
    watch = breaker()
    watch.observe(0, sent=0, failed=0)
    assert watch.observe(5, sent=100, failed=40) is not None  # a bad start, long ago
    assert watch.observe(100, sent=100, failed=40) is None
    assert watch.observe(130, sent=200, failed=45) is None  # 5 of 105 since: fine
    assert watch.observe(170, sent=300, failed=50) is None  # in the window: 10 of 210


def test_after_a_reset_only_new_failures_count() -> None:
    watch = breaker()
    watch.observe(0, sent=0, failed=0)
    assert watch.observe(5, sent=100, failed=40) is not None
    watch.reset()  # the owner resumed
    assert watch.observe(6, sent=100, failed=40) is None
    assert watch.observe(9, sent=130, failed=41) is None


def test_a_healthy_campaign_never_trips() -> None:
    watch = breaker()
    for second in range(0, 600, 5):
        assert watch.observe(second, sent=second * 20, failed=second // 2) is None


def test_an_owner_retry_lowering_the_failed_count_does_not_confuse_it() -> None:
    watch = breaker()
    watch.observe(0, sent=100, failed=50)
    assert watch.observe(10, sent=110, failed=0) is None
