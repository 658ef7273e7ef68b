"""What happens to a message after WhatsApp refused it, by the error's class.

    error (sender.errors)             the message                         the campaign / number
    CampaignFatalError                back to pending, attempt not counted  paused with the reason
    outcome unknown (timeout, crash)  stays sending, unclaimed: wait for    -
                                      its status webhook, resend after
                                      the grace period
    RecipientOptedOutError (131050)   failed; the contact is opted out     -
    RecipientError                    failed with Meta's code and message  -
    ThrottledError (130429, 4, 80007) pending again after its backoff      the number slows down
    PairRateLimitError (131056)       pending again after its backoff      - (only this recipient)
    EngagementLimitError (131049)     pending again hours later            -
    TransientError                    pending again with exponential       -
                                      backoff and jitter, failed after
                                      ``sender_max_attempts`` tries

Throttling and the engagement and pair limits are not the message's fault: their own
backoff policies (``sender.backoff``) bound how often they are retried, not the attempt
setting.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sender.errors import (
    CampaignFatalError,
    CloudApiError,
    EngagementLimitError,
    RecipientError,
    RecipientOptedOutError,
    ThrottledError,
    TransientError,
)

Verdict = Literal["failed", "retry", "unconfirmed", "fatal"]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    next_attempt_at: datetime | None = None
    opted_out: bool = False
    # Why a retryable error is given up on, prefixed to its message.
    gave_up: str | None = None


def decide(
    error: CloudApiError,
    attempts: int,
    now: datetime,
    *,
    max_attempts: int,
    reconcile_grace: float,
    rng: random.Random | None = None,
) -> Decision:
    """The fate of a message whose ``attempts``-th send (1-based) raised ``error``."""
    if isinstance(error, CampaignFatalError):
        return Decision("fatal")
    if error.outcome_unknown:
        return Decision("unconfirmed", now + timedelta(seconds=reconcile_grace))
    if isinstance(error, RecipientOptedOutError):
        return Decision("failed", opted_out=True)
    if isinstance(error, RecipientError):
        return Decision("failed")
    limited_by_setting = isinstance(error, TransientError) and not isinstance(
        error, EngagementLimitError
    )
    if limited_by_setting and attempts >= max_attempts:
        return Decision("failed", gave_up=f"Gave up after {attempts} attempts.")
    if isinstance(error, TransientError | ThrottledError):
        delay = error.retry_delay(attempts, rng)
        if delay is None:
            return Decision("failed", gave_up=f"Gave up after {attempts} attempts.")
        return Decision("retry", now + timedelta(seconds=delay))
    return Decision("failed")
