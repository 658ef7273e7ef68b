"""WhatsApp Cloud API errors, classified by what the sender must do next.

One model for both ways an error reaches us: synchronously, as the JSON body of a failed
HTTP call, and later, inside a ``failed`` status webhook. ``classify()`` turns a Meta error
code into one of these exceptions; each carries the raw data (code, subcode, HTTP status,
title, details, fbtrace_id) and a message an owner understands. The code table lives in
``sender.error_codes``; retry timing in ``sender.backoff``.

CloudApiError                   every Cloud API failure
├── TransientError              retry the same message later, with backoff
│   ├── NetworkError            no (usable) HTTP answer: connect failure, timeout, bad body
│   └── EngagementLimitError    131049: Meta held back a marketing message; retry hours later
├── ThrottledError              too fast: slow the whole sender down, then retry
│   └── PairRateLimitError      131056: too fast for this one recipient; retry only it, later
├── RecipientError              permanent for this recipient or message: mark it failed
│   └── RecipientOptedOutError  131050: the customer stopped marketing messages (an opt-out)
└── CampaignFatalError          retrying cannot help any message: pause the campaign

Choices where Meta's table leaves room:
- 132000 (parameter count does not match) and 132012 (parameter format does not match: a
  video for an image header, named values for a numbered template) are campaign-fatal: every
  message of a campaign is rendered from the same template and mapping, so all would fail
  alike. What does depend on one customer's values (a line break, a tab or five spaces in a
  name) Meta rejects as code 100, which stays per-recipient, like 132005 (too long).
- (100, subcode 33) is campaign-fatal: the phone number id does not exist for this token;
  so is 2500 (unknown path components: the API address or version is wrong).
- Unknown codes go by HTTP status: 5xx or ``is_transient`` → transient, 429 → throttled,
  401/403 → campaign-fatal (credentials or permissions), anything else → recipient.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from sender import error_codes
from sender.backoff import HOURS_LATER, NUMBER_THROUGHPUT, PAIR_RATE, SOON, Backoff


class CloudApiError(Exception):
    """A Cloud API call or message failed; ``message`` tells the owner what to do next."""

    category: ClassVar[str] = "error"
    default_backoff: ClassVar[Backoff | None] = None

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        http_status: int | None = None,
        title: str | None = None,
        details: str | None = None,
        fbtrace_id: str | None = None,
        backoff: Backoff | None = None,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
        raw: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.title = title
        self.details = details
        self.fbtrace_id = fbtrace_id
        self.backoff = backoff or self.default_backoff
        # A server-given wait (Retry-After) overrides the first backoff step.
        self.retry_after = retry_after
        # True when the request may have reached Meta before failing (e.g. a read timeout):
        # re-sending could deliver twice, so reconcile by biz_opaque_callback_data first.
        self.outcome_unknown = outcome_unknown
        self.raw = raw or {}

    @property
    def retryable(self) -> bool:
        return self.backoff is not None

    def retry_delay(self, attempt: int, rng: random.Random | None = None) -> float | None:
        """Seconds to wait after failed attempt ``attempt`` (1-based); None: do not retry."""
        if self.backoff is None:
            return None
        delay = self.backoff.delay(attempt, rng)
        if delay is not None and attempt == 1 and self.retry_after is not None:
            return max(delay, self.retry_after)
        return delay

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record of the error, for the outbox row and the audit trail."""
        return {
            "category": self.category,
            "code": self.code,
            "subcode": self.subcode,
            "http_status": self.http_status,
            "title": self.title,
            "details": self.details,
            "fbtrace_id": self.fbtrace_id,
            "message": self.message,
        }

    def __str__(self) -> str:
        if self.code is None:
            return self.message
        meta = f"WhatsApp error {self.code}"
        if self.subcode is not None:
            meta += f"/{self.subcode}"
        if self.title:
            meta += f": {self.title}"
        return f"{self.message} ({meta})"


class TransientError(CloudApiError):
    """A temporary problem at Meta or on the way there: retry the same message later."""

    category = "transient"
    default_backoff = SOON


class NetworkError(TransientError):
    """No usable HTTP answer: the connection failed, timed out, or returned garbage."""


class EngagementLimitError(TransientError):
    """131049: Meta declined a marketing message to protect the user's engagement."""

    default_backoff = HOURS_LATER


class ThrottledError(CloudApiError):
    """Sending too fast for the app, the account or the phone number: slow down and retry."""

    category = "throttled"
    default_backoff = NUMBER_THROUGHPUT
    # The whole sender must lower its pace, not only this message wait.
    slows_sender: ClassVar[bool] = True


class PairRateLimitError(ThrottledError):
    """131056: too many messages to the same customer in a short time; retry only them."""

    default_backoff = PAIR_RATE
    slows_sender = False


class RecipientError(CloudApiError):
    """Permanent for this recipient or message: mark it failed and carry on with the rest."""

    category = "recipient"


class RecipientOptedOutError(RecipientError):
    """131050: the customer stopped marketing messages; record an opt-out."""


class CampaignFatalError(CloudApiError):
    """No message of the campaign can succeed until the owner fixes something: pause it."""

    category = "campaign_fatal"


_CLASSES: dict[str, type[CloudApiError]] = {
    error_codes.TRANSIENT: TransientError,
    error_codes.ENGAGEMENT_LIMITED: EngagementLimitError,
    error_codes.THROTTLED: ThrottledError,
    error_codes.PAIR_RATE_LIMITED: PairRateLimitError,
    error_codes.RECIPIENT: RecipientError,
    error_codes.OPTED_OUT: RecipientOptedOutError,
    error_codes.CAMPAIGN_FATAL: CampaignFatalError,
}


def classify(
    code: int | None,
    http_status: int | None = None,
    *,
    subcode: int | None = None,
    title: str | None = None,
    details: str | None = None,
    fbtrace_id: str | None = None,
    is_transient: bool | None = None,
    retry_after: float | None = None,
    raw: dict[str, Any] | None = None,
) -> CloudApiError:
    """The exception for a Meta error code, from a synchronous response or a webhook."""
    rule = error_codes.rule_for(code, subcode, http_status, is_transient)
    return _CLASSES[rule.kind](
        rule.message,
        code=code,
        subcode=subcode,
        http_status=http_status,
        title=title,
        details=details,
        fbtrace_id=fbtrace_id,
        backoff=rule.backoff,
        retry_after=retry_after,
        raw=raw,
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def error_from_response(
    http_status: int, body: Any, *, retry_after: float | None = None
) -> CloudApiError:
    """Classify a failed HTTP answer; ``body`` is the decoded JSON (or anything else)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return classify(
            None,
            http_status,
            title=f"HTTP {http_status} without a Graph API error body",
            retry_after=retry_after,
            raw=body if isinstance(body, dict) else {"body": body},
        )
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    return classify(
        _int_or_none(error.get("code")),
        http_status,
        subcode=_int_or_none(error.get("error_subcode")),
        title=error.get("error_user_title") or error.get("message"),
        details=details,
        fbtrace_id=error.get("fbtrace_id"),
        is_transient=error.get("is_transient"),
        retry_after=retry_after,
        raw=error,
    )


def error_from_webhook(error: dict[str, Any]) -> CloudApiError:
    """Classify one item of a ``failed`` status webhook's ``errors`` list."""
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    return classify(
        _int_or_none(error.get("code")),
        None,
        title=error.get("title") or error.get("message"),
        details=details,
        raw=error,
    )
