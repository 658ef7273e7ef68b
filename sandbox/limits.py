"""Meta's sending limits: throughput per business number and the pair rate per recipient.

Throughput is a sliding one-second window, so no one-second span ever holds more accepted
messages than the configured rate (the property the sender benchmark checks). The pair rate
is a token bucket per recipient: one message per ``interval`` with a burst allowance.
``SendHistogram`` counts accepted sends per wall-clock second for the benchmarks.
"""

from __future__ import annotations

from collections import deque


class ThroughputWindow:
    """At most ``rate`` acceptances in any window of one second."""

    def __init__(self) -> None:
        self._accepted: deque[float] = deque()

    def _trim(self, now: float) -> None:
        horizon = now - 1.0
        accepted = self._accepted
        while accepted and accepted[0] <= horizon:
            accepted.popleft()

    def full(self, now: float, rate: int) -> bool:
        self._trim(now)
        return len(self._accepted) >= rate

    def record(self, now: float) -> None:
        self._accepted.append(now)

    def clear(self) -> None:
        self._accepted.clear()


class PairRateLimiter:
    """A token bucket per recipient: ``burst`` messages at once, then one per ``interval``."""

    PRUNE_AT = 200_000

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # wa_id -> (tokens, updated at)

    def take(self, wa_id: str, now: float, interval: float, burst: int) -> bool:
        """Spend one token for ``wa_id``; False when the pair limit is hit."""
        if interval <= 0:
            return True
        tokens, updated = self._buckets.get(wa_id, (float(burst), now))
        tokens = min(float(burst), tokens + (now - updated) / interval)
        if tokens < 1.0:
            self._buckets[wa_id] = (tokens, now)
            return False
        self._buckets[wa_id] = (tokens - 1.0, now)
        if len(self._buckets) > self.PRUNE_AT:
            self._prune(now, interval, burst)
        return True

    def _prune(self, now: float, interval: float, burst: int) -> None:
        """Forget recipients whose bucket has refilled: they behave like new ones."""
        full_after = interval * burst
        self._buckets = {
            wa_id: state for wa_id, state in self._buckets.items() if now - state[1] < full_after
        }

    def clear(self) -> None:
        self._buckets.clear()


class SendHistogram:
    """Accepted sends per wall-clock second, for the last ``keep_seconds`` seconds."""

    def __init__(self, keep_seconds: int = 3600) -> None:
        self._counts: dict[int, int] = {}
        self._keep = keep_seconds

    def add(self, wall_time: float) -> None:
        second = int(wall_time)
        counts = self._counts
        counts[second] = counts.get(second, 0) + 1
        if len(counts) > self._keep:
            del counts[next(iter(counts))]

    def snapshot(self) -> dict[int, int]:
        return dict(self._counts)

    def clear(self) -> None:
        self._counts.clear()
