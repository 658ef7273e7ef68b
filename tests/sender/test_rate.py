"""Pacing without a clock: the pacer, the throttle and the fair gate, on simulated time."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from sender.rate import IDLE, MAX_WINDOW, WINDOW, FairGate, JitterGuard, Pacer, Throttle


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most grants in any half-open window of ``window`` seconds (to the nanosecond)."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window + 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


def drive(pacer: Pacer, seconds: float, *, lateness: float = 0.0, seed: int = 1) -> list[float]:
    """Grant as soon as allowed, waking up to ``lateness`` seconds late each time."""
    rng = random.Random(seed)
    now, granted = 0.0, []
    while now < seconds:
        wait = pacer.delay(now)
        if wait > 0:
            now += wait + rng.uniform(0, lateness)
            continue
        pacer.take(now)
        granted.append(now)
    return granted


@pytest.mark.parametrize("rate", [1, 7, 20, 50, 1000])
def test_no_window_holds_more_than_the_rate(rate: int) -> None:
    granted = drive(Pacer(rate), 10, lateness=0.004)
    assert max_in_window(granted, 1.0) <= rate
    # Even with windows stretched by the arrival spread the pacer allows for.
    assert max_in_window(granted, WINDOW) <= rate
    assert len(granted) >= rate * 10 / WINDOW * 0.97


def test_grants_are_spread_not_bunched() -> None:
    granted = drive(Pacer(20), 3)
    gaps = [b - a for a, b in itertools.pairwise(granted)]
    assert min(gaps) >= WINDOW / 20 - 1e-9


def test_a_late_wakeup_is_caught_up_within_the_window() -> None:
    pacer = Pacer(100)
    granted = drive(pacer, 5, lateness=0.02)  # wakes up to 20 ms late: more than a slot
    assert max_in_window(granted) <= 100
    assert len(granted) >= 100 * 5 / WINDOW * 0.95


def test_a_lower_rate_applies_to_the_next_grant() -> None:
    pacer = Pacer(50)
    granted = drive(pacer, 2)
    pacer.rate = 10
    now = granted[-1]
    later = []
    while now < 6:
        wait = pacer.delay(now)
        if wait:
            now += wait
            continue
        pacer.take(now)
        later.append(now)
    # The window after the change may still hold older grants, never more than 50 in all.
    assert max_in_window(granted + later) <= 50
    assert max_in_window([t for t in later if t >= granted[-1] + WINDOW]) <= 10


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Pacer(0)


def test_throttle_halves_holds_then_recovers() -> None:
    throttle = Throttle(cut=0.5, hold=2.0, recovery=0.1)
    assert throttle.factor(0) == 1.0
    assert throttle.slow_down(10.0)
    assert throttle.factor(10.0) == 0.5
    assert not throttle.slow_down(10.5), "the answers of one burst cut only once"
    assert throttle.factor(11.9) == 0.5
    assert throttle.factor(14.0) == pytest.approx(0.7)
    assert throttle.factor(30.0) == 1.0
    assert throttle.slow_down(12.5)  # throttled again after the hold: cut again
    assert throttle.factor(12.5) == pytest.approx((0.5 + 0.1 * 0.5) * 0.5)


def test_throttle_never_stops_sending() -> None:
    throttle = Throttle(cut=0.5, floor=0.05, hold=0.0, recovery=0.0)
    for second in range(20):
        throttle.slow_down(float(second))
    assert throttle.factor(19.0) == pytest.approx(0.05, abs=0.01)


def run_gate(gate: FairGate[str], seconds: float, ready: set[str]) -> list[tuple[float, str]]:
    now, sent = 0.0, []
    while now < seconds:
        key, wait = gate.pick(now, lambda k: k in ready)
        if key is None:
            now += wait
            continue
        sent.append((now, key))
    return sent


def test_campaigns_share_the_cap_equally() -> None:
    gate: FairGate[str] = FairGate(50)
    names = [f"c{i}" for i in range(5)]
    for name in names:
        gate.set_lane(name, 100)  # each would like more than the cap
    sent = run_gate(gate, 10, set(names))
    counts = Counter(key for _, key in sent)
    assert max_in_window([t for t, _ in sent]) <= 50
    assert max(counts.values()) - min(counts.values()) <= 1
    assert sum(counts.values()) >= 50 * 10 / WINDOW * 0.97


def test_a_slow_campaign_gets_its_rate_and_the_others_the_rest() -> None:
    gate: FairGate[str] = FairGate(50)
    gate.set_lane("slow", 5)
    gate.set_lane("fast", 100)
    gate.set_lane("faster", 100)
    sent = run_gate(gate, 20, {"slow", "fast", "faster"})
    counts = Counter(key for t, key in sent if t >= 2)  # after the first window
    seconds = 18
    assert counts["slow"] / seconds == pytest.approx(5 / WINDOW, rel=0.05)
    assert counts["fast"] == pytest.approx(counts["faster"], abs=2)
    assert (counts["fast"] + counts["slow"] + counts["faster"]) / seconds <= 50


def test_each_campaign_keeps_its_own_rate_under_the_cap() -> None:
    gate: FairGate[str] = FairGate(1000)
    gate.set_lane("a", 20)
    sent = run_gate(gate, 5, {"a"})
    assert max_in_window([t for t, _ in sent]) <= 20


def test_nothing_ready_means_a_short_idle_wait() -> None:
    gate: FairGate[str] = FairGate(10)
    gate.set_lane("a", 10)
    assert gate.pick(0.0, lambda key: False) == (None, IDLE)


def test_slowing_down_lowers_the_number_pace() -> None:
    gate: FairGate[str] = FairGate(100)
    gate.set_lane("a", 100)
    gate.slow_down(0.0)
    sent = run_gate(gate, 2, {"a"})
    assert max_in_window([t for t, _ in sent]) <= 50


def test_removing_a_lane_keeps_the_rotation_going() -> None:
    gate: FairGate[str] = FairGate(100)
    for name in "abc":
        gate.set_lane(name, 100)
    gate.pick(0.0, lambda k: True)
    gate.remove_lane("b")
    assert gate.lanes() == ["a", "c"]
    picked = {gate.pick(float(i), lambda k: True)[0] for i in range(1, 5)}
    assert picked == {"a", "c"}


def test_the_window_widens_with_the_loops_lateness_and_narrows_back() -> None:
    guard = JitterGuard(span=10)
    assert guard.window(0.0) == WINDOW
    guard.observe(1.0, 0.002)  # a quiet machine
    assert guard.window(1.0) == WINDOW
    guard.observe(2.0, 0.060)  # the process stood still for 60 ms
    guard.observe(3.0, 0.001)
    assert guard.window(3.0) == pytest.approx(1.07)
    guard.observe(4.0, 0.5)  # half a second: capped
    assert guard.window(4.0) == MAX_WINDOW
    assert guard.window(14.5) == WINDOW  # ten quiet seconds later


def test_a_wider_window_keeps_grants_within_it() -> None:
    pacer = Pacer(100)
    pacer.window = 1.1
    granted = drive(pacer, 5)
    assert max_in_window(granted, 1.1) <= 100
    assert len(granted) >= 100 * 5 / 1.1 * 0.97


def test_stalled_counts_recent_grants_as_made_after_the_stall() -> None:
    gate: FairGate[str] = FairGate(10)
    gate.set_lane("a", 10)
    sent = run_gate(gate, 1.0, {"a"})  # ~10 grants within the first second
    gate.stalled(since=sent[-1][0], by=0.3)  # the last one left 0.3 s late
    later = run_gate_from(gate, sent[-1][0], 3.0, {"a"})
    shifted = [t for t, _ in sent[:-1]] + [sent[-1][0] + 0.3] + [t for t, _ in later]
    assert max_in_window(sorted(shifted), WINDOW) <= 10


def run_gate_from(
    gate: FairGate[str], start: float, seconds: float, ready: set[str]
) -> list[tuple[float, str]]:
    now, sent = start, []
    while now < start + seconds:
        key, wait = gate.pick(now, lambda k: k in ready)
        if key is None:
            now += wait
            continue
        sent.append((now, key))
    return sent
