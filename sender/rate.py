"""Pacing: a campaign's rate under its phone number's cap, shared fairly, never over a window.

``Pacer`` grants at most ``rate`` sends in any window of ``window`` seconds and spreads them
evenly (one every ``window / rate`` seconds; when the event loop wakes a little late, the
next grants come sooner to keep the schedule). ``aiolimiter``'s leaky bucket lets about
twice the rate through in the first second (DESIGN.md, "Rate limiting"); this one keeps the
grant times of the last ``rate`` sends, so no window can hold one more.

The window is a little longer than one second (``WINDOW``): requests reach WhatsApp a few
milliseconds after their grant, and not all equally late. A grant-to-arrival spread of up
to ``WINDOW - 1`` seconds therefore still keeps every one-second window at WhatsApp within
the rate, at the price of sending at ``rate / WINDOW`` at best (98%). When the process
stands still longer than that (a busy machine, a garbage collection), the grants just
before the stall may go out only after it: ``FairGate.stalled`` then counts them as made
after the stall.

``Throttle`` is the number's answer to "too fast" (130429 and the API rate limits): halve
the pace, hold it, then recover linearly. ``FairGate`` combines one number's cap (times the
throttle) with one ``Pacer`` per campaign and hands the next send to the campaigns
round-robin, skipping those that have nothing ready or must wait for their own rate: a
campaign slower than its fair share gets all of its rate, the others split the rest equally
(max-min fairness).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

WINDOW = 1.02  # seconds: see the module docstring
CATCH_UP = 0.025  # seconds a late grant may be caught up by granting the next ones sooner
STALL = 0.01  # a wake-up this late means the process stood still (GIL, GC, CPU starved)
MAX_WINDOW = 1.15  # the widest window a starved process falls back to (87% of the rate)
JITTER_SLACK = 0.01  # added to the worst recent lateness
IDLE = 0.05  # seconds to wait when no campaign has anything ready


class Pacer:
    """At most ``rate`` grants in any ``window`` seconds, evenly spaced."""

    def __init__(self, rate: float, *, window: float = WINDOW, catch_up: float = CATCH_UP) -> None:
        if catch_up < 0:
            raise ValueError("catch_up must not be negative")
        self.catch_up = catch_up
        self._granted: deque[float] = deque()
        self._next = -math.inf  # when the next evenly spaced grant is due
        self._window = window
        self.rate = rate
        self.window = window

    @property
    def window(self) -> float:
        return self._window

    @window.setter
    def window(self, value: float) -> None:
        if value < 1.0:
            raise ValueError(f"the window must be at least one second, got {value}")
        self._window = value
        self._interval = value / self._rate

    @property
    def rate(self) -> float:
        return self._rate

    @rate.setter
    def rate(self, value: float) -> None:
        if value <= 0:
            raise ValueError(f"a rate must be positive, got {value}")
        self._rate = float(value)
        self._limit = max(1, math.floor(value))
        self._interval = self._window / value

    def _forget(self, now: float) -> None:
        horizon = now - self.window
        granted = self._granted
        while granted and granted[0] <= horizon:
            granted.popleft()

    def delay(self, now: float) -> float:
        """Seconds until a grant is allowed (0.0: now)."""
        self._forget(now)
        wait = self._next - now
        if len(self._granted) >= self._limit:
            # The grant ``limit`` places back must leave the window first.
            wait = max(wait, self._granted[-self._limit] + self.window - now)
        return max(0.0, wait)

    def defer(self, since: float, by: float) -> None:
        """Count the grants made since ``since`` as ``by`` seconds later (see ``FairGate``)."""
        granted = self._granted
        moved: list[float] = []
        while granted and granted[-1] >= since:
            moved.append(granted.pop() + by)
        granted.extend(reversed(moved))

    def take(self, now: float) -> None:
        """Record a grant at ``now`` (call only when ``delay(now)`` is 0)."""
        self._granted.append(now)
        # Woken a little late: keep the schedule, so the next grant comes that much sooner.
        # Later than ``catch_up`` (or the first grant after a pause): start a new schedule.
        on_schedule = now - self._next <= self.catch_up
        self._next = (self._next if on_schedule else now) + self._interval


class Throttle:
    """How much of a number's throughput to use after WhatsApp said "too fast".

    Each slow-down halves the factor (not below ``floor``), at most once per ``hold``
    seconds, since the many requests in flight when the limit was hit all come back
    throttled together. After ``hold`` seconds without one, the factor grows back by
    ``recovery`` per second up to 1.
    """

    def __init__(
        self,
        *,
        cut: float = 0.5,
        floor: float = 0.05,
        hold: float = 2.0,
        recovery: float = 0.1,
    ) -> None:
        self.cut = cut
        self.floor = floor
        self.hold = hold
        self.recovery = recovery
        self._factor = 1.0  # right after the last cut
        self._cut_at = -math.inf

    def factor(self, now: float) -> float:
        recovering = max(0.0, now - self._cut_at - self.hold)
        return min(1.0, self._factor + self.recovery * recovering)

    def slow_down(self, now: float) -> bool:
        """Cut the pace; False when a cut happened less than ``hold`` seconds ago."""
        if now - self._cut_at < self.hold:
            return False
        self._factor = max(self.floor, self.factor(now) * self.cut)
        self._cut_at = now
        return True

    @property
    def slowed(self) -> bool:
        return self._cut_at > -math.inf


class FairGate(Generic[K]):
    """One number's sends: its cap, throttled when needed, shared round-robin by campaigns."""

    def __init__(self, cap: float, *, window: float = WINDOW, throttle: Throttle | None = None):
        self._window = window
        self.throttle = throttle or Throttle()
        self._cap = float(cap)
        self._number = Pacer(cap, window=window)
        self._lanes: dict[K, Pacer] = {}
        self._order: list[K] = []
        self._turn = 0

    @property
    def cap(self) -> float:
        return self._cap

    @cap.setter
    def cap(self, value: float) -> None:
        self._cap = float(value)

    def effective_cap(self, now: float) -> float:
        return max(self._cap * self.throttle.factor(now), 0.1)

    def set_lane(self, key: K, rate: float) -> None:
        """Add a campaign, or change its rate (a live change applies to the next grant)."""
        pacer = self._lanes.get(key)
        if pacer is None:
            self._lanes[key] = Pacer(rate, window=self._window)
            self._order.append(key)
        elif pacer.rate != rate:
            pacer.rate = rate

    def remove_lane(self, key: K) -> None:
        if self._lanes.pop(key, None) is not None:
            self._order.remove(key)
            self._turn = self._turn % len(self._order) if self._order else 0

    def lanes(self) -> list[K]:
        return list(self._order)

    def slow_down(self, now: float) -> bool:
        return self.throttle.slow_down(now)

    @property
    def window(self) -> float:
        return self._window

    @window.setter
    def window(self, value: float) -> None:
        """Widen (or narrow back) every pacer's window: see ``JitterGuard``."""
        self._window = value
        self._number.window = value
        for pacer in self._lanes.values():
            pacer.window = value

    def stalled(self, since: float, by: float) -> None:
        """The process stood still for ``by`` seconds after ``since``.

        Sends granted just before may have been posted only now, ``by`` late, so they
        count as made now: the window of grants then stays the window of arrivals.
        """
        self._number.defer(since, by)
        for pacer in self._lanes.values():
            pacer.defer(since, by)

    def pick(self, now: float, ready: Callable[[K], bool]) -> tuple[K | None, float]:
        """The campaign whose message goes now, or None and how long to wait."""
        cap = self.effective_cap(now)
        if abs(self._number.rate - cap) > 1e-9:
            self._number.rate = cap
        wait = self._number.delay(now)
        if wait > 0:
            return None, wait
        soonest = math.inf
        count = len(self._order)
        for step in range(count):
            index = (self._turn + step) % count
            key = self._order[index]
            if not ready(key):
                continue
            pacer = self._lanes[key]
            lane_wait = pacer.delay(now)
            if lane_wait > 0:
                soonest = min(soonest, lane_wait)
                continue
            pacer.take(now)
            self._number.take(now)
            self._turn = (index + 1) % count
            return key, 0.0
        return None, soonest if soonest < math.inf else IDLE


class JitterGuard:
    """The window that keeps arrivals within the rate, from how late the loop wakes up.

    ``WINDOW`` allows 20 ms between a grant and its arrival. On a busy machine the process
    (and WhatsApp's side of the wire, on the sandbox) can stand still for longer; the loop
    then wakes up late by about as much. The guard keeps the worst lateness of the last
    ``span`` seconds and answers a window of one second plus that (and a little), between
    ``WINDOW`` and ``MAX_WINDOW``: a quiet machine sends at full pace, a starved one a few
    percent slower but still within the rate.
    """

    def __init__(self, span: float = 10.0) -> None:
        self.span = span
        self._late: deque[tuple[float, float]] = deque()  # (when, how late), decreasing late

    def observe(self, now: float, late: float) -> None:
        samples = self._late
        while samples and samples[-1][1] <= late:  # keep only what could be the maximum
            samples.pop()
        samples.append((now, late))
        while samples[0][0] < now - self.span:
            samples.popleft()

    def window(self, now: float) -> float:
        samples = self._late
        while samples and samples[0][0] < now - self.span:
            samples.popleft()
        worst = samples[0][1] if samples else 0.0
        return min(MAX_WINDOW, max(WINDOW, 1.0 + worst + JITTER_SLACK))
