"""Retry timing: exponential backoff with jitter, and the policies Meta's error codes need."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: how long to wait before each retry, and when to stop."""

    base: float  # seconds before the first retry
    cap: float  # the longest single wait
    max_retries: int

    def delay(self, attempt: int, rng: random.Random | None = None) -> float | None:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), or None to give up.

        Equal jitter: half the exponential step is fixed, half random, so retries of many
        messages that failed together spread out instead of arriving together again.
        """
        if attempt < 1:
            raise ValueError("attempt counts from 1")
        if attempt > self.max_retries:
            return None
        step = min(self.cap, self.base * 2 ** (attempt - 1))
        return step / 2 + (rng or random).uniform(0, step / 2)


# Meta: 1/2/131000/131016/131057 are safe to retry soon; 131049 must not be retried for hours.
SOON = Backoff(base=2.0, cap=300.0, max_retries=6)
HOURS_LATER = Backoff(base=6 * 3600.0, cap=24 * 3600.0, max_retries=2)
NUMBER_THROUGHPUT = Backoff(base=1.0, cap=60.0, max_retries=10)
API_RATE_LIMIT = Backoff(base=60.0, cap=900.0, max_retries=8)
# Meta allows about one message every 6 s to the same user, with growing waits after bursts.
PAIR_RATE = Backoff(base=6.0, cap=600.0, max_retries=8)
