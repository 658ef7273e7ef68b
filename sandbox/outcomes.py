"""What becomes of an accepted message: delivered, read, replied to, or failed, and when.

Deterministic: the draws for a message come from a hash of (seed, recipient, how many messages
that recipient has been sent), so the same campaign to the same contacts has the same outcomes
whatever the concurrency. A few rules come before the mix, as at Meta: numbers ending in the
configured suffix are not on WhatsApp (131026), free-form messages outside the 24-hour window
fail (131047) when the window is enforced, and marketing templates to blocked country codes are
not delivered (131049).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sandbox.config import MARKETING_ONLY_FAILURES, SandboxConfig
from sandbox.payloads import pricing
from sandbox.validation import OutgoingMessage

STOP_WORDS = ("stop", "berhenti", "unsubscribe")


@dataclass(slots=True)
class Reply:
    text: str | None = None  # a typed message
    button: str | None = None  # a quick-reply tap (its text is also its payload)
    opt_out: bool = False


@dataclass(slots=True)
class Outcome:
    kind: str  # "delivered" | "read" | "replied" | "failed"
    error_code: int | None = None
    error_details: str | None = None
    reply: Reply | None = None


def draws(seed: int, wa_id: str, ordinal: int, count: int = 10) -> list[float]:
    """``count`` uniform numbers in [0, 1) fixed by (seed, recipient, ordinal)."""
    digest = hashlib.blake2b(f"{seed}:{wa_id}:{ordinal}".encode(), digest_size=4 * count).digest()
    return [int.from_bytes(digest[4 * i : 4 * i + 4], "big") / 4_294_967_296 for i in range(count)]


def _pick(weights: dict[Any, float], u: float) -> Any:
    total = sum(weights.values())
    threshold = u * total
    for key, weight in weights.items():
        threshold -= weight
        if threshold < 0 and weight > 0:
            return key
    return next(key for key, weight in reversed(weights.items()) if weight > 0)


def decide(
    config: SandboxConfig,
    message: OutgoingMessage,
    u: list[float],
    *,
    window_open: bool,
) -> Outcome:
    """The outcome of ``message`` given the draws ``u``."""
    wa_id = message.wa_id
    suffix = config.not_on_whatsapp_suffix
    if suffix and wa_id.endswith(suffix):
        return Outcome(
            "failed",
            131026,
            f"{wa_id} is not a WhatsApp user (sandbox rule: numbers ending in {suffix}).",
        )
    if message.free_form and config.enforce_service_window and not window_open:
        return Outcome("failed", 131047)
    template = message.template
    marketing = template is not None and template.category == "MARKETING"
    if marketing and any(wa_id.startswith(code) for code in config.marketing_blocked_country_codes):
        return Outcome(
            "failed",
            131049,
            f"Marketing template messages are not delivered to numbers starting with +{wa_id[:1]}.",
        )
    mix = config.outcomes
    kind = _pick(
        {
            "delivered": mix.delivered,
            "read": mix.read,
            "replied": mix.replied,
            "failed": mix.failed,
        },
        u[0],
    )
    if kind == "failed":
        codes = {
            code: weight
            for code, weight in mix.failure_codes.items()
            if marketing or code not in MARKETING_ONLY_FAILURES
        }
        code = _pick(codes, u[1]) if sum(codes.values()) > 0 else 131026
        return Outcome("failed", code)
    if kind != "replied":
        return Outcome(kind)
    if u[2] < mix.opt_out_rate:
        stop_button = next(
            (
                button.text
                for button in (template.buttons if template is not None else [])
                if button.type == "QUICK_REPLY"
                and any(w in button.text.lower() for w in STOP_WORDS)
            ),
            None,
        )
        if stop_button is not None and u[3] < 0.5:
            return Outcome("replied", reply=Reply(button=stop_button, opt_out=True))
        text = mix.opt_out_texts[int(u[4] * len(mix.opt_out_texts))]
        return Outcome("replied", reply=Reply(text=text, opt_out=True))
    return Outcome("replied", reply=Reply(text=mix.reply_texts[int(u[4] * len(mix.reply_texts))]))


def timeline(config: SandboxConfig, outcome: Outcome, u: list[float]) -> list[tuple[str, float]]:
    """(step, seconds after acceptance) for each webhook the outcome produces, in order.

    Steps: ``sent``, ``delivered``, ``read``, ``failed``, ``reply``, ``opt_out``.
    """
    timing = config.timing

    def delay(ms: float, draw: float) -> float:
        return ms * (1 + timing.jitter * (2 * draw - 1)) / 1000

    if outcome.kind == "failed":
        steps = [("failed", delay(timing.sent_after_ms, u[5]))]
        if outcome.error_code == 131050:
            steps.append(("opt_out", steps[0][1]))
        return steps
    steps = [("sent", delay(timing.sent_after_ms, u[5]))]
    steps.append(("delivered", max(steps[-1][1], delay(timing.delivered_after_ms, u[6]))))
    if outcome.kind in ("read", "replied"):
        steps.append(("read", max(steps[-1][1], delay(timing.read_after_ms, u[7]))))
    if outcome.kind == "replied":
        steps.append(("reply", max(steps[-1][1], delay(timing.replied_after_ms, u[8]))))
    return steps


def message_pricing(message: OutgoingMessage, window_open: bool) -> dict[str, Any]:
    """Per-message pricing: service and in-window utility messages are free, the rest billed."""
    template = message.template
    if template is None:
        return pricing("service", billable=False)
    category = template.category.lower()
    if category == "utility" and window_open:
        return pricing(category, billable=False)
    return pricing(category, billable=True)
