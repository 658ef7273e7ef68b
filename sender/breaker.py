"""The quality circuit breaker: pause a campaign whose messages fail too often.

Many failures in a short time (numbers not on WhatsApp, customers who stopped marketing
messages, blocks) lower the phone number's quality rating, and a low rating gets templates
paused and the number limited. The breaker watches the campaign's own counters
(``sent_count`` and ``failed_count``, which the sender and the webhook receiver keep), so it
sees failures reported at once and those WhatsApp reports later by webhook, whichever worker
sent the message: within the rolling window, when at least ``min_messages`` were sent or
failed and the failed share reaches ``failure_rate``, it trips. A message that is sent and
later fails counts in both, so the share slightly understates the failure rate per message.

Meta's own spam and quality signals (131048 spam rate limit, 132015/132016 template paused
or disabled) need no window: they are campaign-fatal errors and pause at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Trip:
    """Why the breaker opened, in an owner's words."""

    failed: int
    finished: int
    window_seconds: float
    threshold: float

    @property
    def reason(self) -> str:
        minutes = self.window_seconds / 60
        span = f"{minutes:g} minutes" if minutes >= 1 else f"{self.window_seconds:g} seconds"
        return (
            f"Paused by the quality circuit breaker: {self.failed:,} of {self.finished:,} "
            f"messages failed in the last {span} (the limit is {self.threshold:.0%}). Many "
            "failures lower the phone number's quality rating. Check the failed messages' "
            "errors and the audience, then resume."
        )


class QualityBreaker:
    """Rolling window over a campaign's (sent, failed) counters."""

    def __init__(self, *, window_seconds: float, min_messages: int, failure_rate: float):
        self.window_seconds = window_seconds
        self.min_messages = min_messages
        self.failure_rate = failure_rate
        self._samples: deque[tuple[float, int, int]] = deque()  # (time, sent, failed)

    def reset(self) -> None:
        """Forget the past (after a resume: the owner has looked at what failed)."""
        self._samples.clear()

    def observe(self, now: float, sent: int, failed: int) -> Trip | None:
        """Record the counters at ``now``; a Trip when the breaker opens."""
        samples = self._samples
        samples.append((now, sent, failed))
        # Keep one sample at or before the window's start, as the baseline.
        while len(samples) > 1 and samples[1][0] <= now - self.window_seconds:
            samples.popleft()
        _, sent_then, failed_then = samples[0]
        # Counters can go down (an owner retried failed messages): never below zero.
        new_failed = max(0, failed - failed_then)
        finished = max(0, sent - sent_then) + new_failed
        if finished < self.min_messages or finished == 0:
            return None
        if new_failed / finished < self.failure_rate:
            return None
        return Trip(new_failed, finished, self.window_seconds, self.failure_rate)
