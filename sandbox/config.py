"""The sandbox's configuration: identity, limits, latency, outcome mix and webhook delivery.

Every setting has a demo default so ``SandboxConfig()`` is a working sandbox. The running
server reads its config on every request, so ``PATCH /_sandbox/config`` takes effect at once;
``SandboxConfig.merged`` validates such a partial update as a whole before it is applied.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

VERSION_PATTERN = re.compile(r"v\d+\.\d+")
MARKETING_ONLY_FAILURES = frozenset({131049, 131050})
KNOWN_FAILURE_CODES = frozenset({131026, 131049, 131050, 131000, 131053})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class OutcomeMix(_Strict):
    """What happens to accepted messages, as relative weights (they need not sum to 1)."""

    delivered: float = Field(default=0.25, ge=0)  # delivered, never read
    read: float = Field(default=0.45, ge=0)
    replied: float = Field(default=0.20, ge=0)  # read, then the customer answers
    failed: float = Field(default=0.10, ge=0)
    # Which error a failed message carries, by weight. 131049/131050 only apply to
    # marketing templates (Meta sends them for nothing else); others fall back to 131026.
    failure_codes: dict[int, float] = Field(
        default_factory=lambda: {131026: 0.5, 131049: 0.3, 131050: 0.2}
    )
    opt_out_rate: float = Field(default=0.15, ge=0, le=1)  # share of replies that opt out
    reply_texts: list[str] = Field(
        default_factory=lambda: [
            "Terima kasih infonya!",
            "Masih ada stok?",
            "Berapa harganya kak?",
            "Boleh kirim katalognya?",
            "Thanks, I'll check it out",
            "Is this still available?",
            "Oke kak, saya mampir besok",
        ]
    )
    opt_out_texts: list[str] = Field(default_factory=lambda: ["STOP", "BERHENTI"])

    @field_validator("failure_codes")
    @classmethod
    def _known_codes(cls, value: dict[int, float]) -> dict[int, float]:
        unknown = sorted(set(value) - KNOWN_FAILURE_CODES)
        if unknown:
            raise ValueError(
                f"failure codes {unknown} are not emulated; use some of "
                f"{sorted(KNOWN_FAILURE_CODES)}"
            )
        if any(weight < 0 for weight in value.values()):
            raise ValueError("failure code weights must not be negative")
        return value

    @field_validator("reply_texts", "opt_out_texts")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if not value or any(not text.strip() for text in value):
            raise ValueError("needs at least one non-blank text")
        return value

    @model_validator(mode="after")
    def _some_weight(self) -> OutcomeMix:
        if self.delivered + self.read + self.replied + self.failed <= 0:
            raise ValueError("at least one outcome needs a positive weight")
        if self.failed > 0 and sum(self.failure_codes.values()) <= 0:
            raise ValueError("failed messages need at least one failure code with weight > 0")
        return self


class Timing(_Strict):
    """When status webhooks fire after a message is accepted, in milliseconds."""

    sent_after_ms: float = Field(default=300, ge=0)
    delivered_after_ms: float = Field(default=1500, ge=0)
    read_after_ms: float = Field(default=6000, ge=0)
    replied_after_ms: float = Field(default=15000, ge=0)
    jitter: float = Field(default=0.5, ge=0, le=1)  # each delay varies by ± this fraction

    @model_validator(mode="after")
    def _in_order(self) -> Timing:
        steps = [
            self.sent_after_ms,
            self.delivered_after_ms,
            self.read_after_ms,
            self.replied_after_ms,
        ]
        if steps != sorted(steps):
            raise ValueError("sent ≤ delivered ≤ read ≤ replied delays must be in order")
        return self


class WebhookSettings(_Strict):
    """Where and how the sandbox delivers signed webhooks."""

    url: str | None = None  # no URL: nothing is delivered (statuses are still tracked)
    duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    duplicate_delay_ms: float = Field(default=300, ge=0)
    reorder_rate: float = Field(default=0.0, ge=0, le=1)  # share of messages whose "sent" lags
    reorder_delay_ms: float = Field(default=500, ge=0)
    batch_rate: float = Field(default=0.3, ge=0, le=1)  # chance that ready events share a POST
    batch_max: int = Field(default=25, ge=1, le=1000)
    batch_window_ms: float = Field(default=50, ge=0, le=5000)  # events this close share a tick
    concurrency: int = Field(default=8, ge=1, le=256)
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    max_attempts: int = Field(default=6, ge=1, le=50)
    retry_base_ms: float = Field(default=1000, ge=0)
    retry_max_ms: float = Field(default=60_000, ge=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.match(r"https?://[^\s/]+", value):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value


class SandboxConfig(_Strict):
    """Everything the sandbox can be told. Defaults describe the demo account."""

    # Identity of the emulated account (demo values, never real secrets).
    access_token: str = Field(default="sandbox-access-token", min_length=1)
    app_secret: str = Field(default="sandbox-app-secret", min_length=1)
    verify_token: str = Field(default="sandbox-verify-token", min_length=1)
    phone_number_id: str = Field(default="106540352242922", pattern=r"^\d{5,20}$")
    waba_id: str = Field(default="419561257915477", pattern=r"^\d{5,20}$")
    display_phone_number: str = "+62 811-0000-0000"
    verified_name: str = "Toko Maju"
    quality_rating: Literal["GREEN", "YELLOW", "RED", "UNKNOWN"] = "GREEN"
    messaging_limit: Literal["TIER_250", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED"] = (
        "TIER_2K"
    )
    # Accepted path versions: any vNN.N by default; a list restricts them (e.g. to v25.0).
    api_versions: list[str] = Field(default_factory=list)

    # Latency applied to every Graph response, without blocking other requests.
    latency_ms: float = Field(default=150, ge=0, le=60_000)
    latency_jitter_ms: float = Field(default=30, ge=0, le=60_000)

    # Limits.
    throughput_per_second: int = Field(default=80, ge=1, le=100_000)
    pair_rate_interval_s: float = Field(default=6.0, ge=0)
    pair_rate_burst: int = Field(default=45, ge=1)
    enforce_service_window: bool = True  # free-form messages need an inbound within 24 h
    service_window_hours: float = Field(default=24, gt=0)
    not_on_whatsapp_suffix: str = Field(default="0000", pattern=r"^\d{0,8}$")
    marketing_blocked_country_codes: list[str] = Field(default_factory=lambda: ["1"])

    # Outcomes and their timing; ``seed`` makes them repeatable.
    seed: int = 0
    outcomes: OutcomeMix = Field(default_factory=OutcomeMix)
    timing: Timing = Field(default_factory=Timing)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)

    max_recorded_messages: int = Field(default=200_000, ge=100)

    @field_validator("api_versions")
    @classmethod
    def _versions(cls, value: list[str]) -> list[str]:
        bad = [version for version in value if not VERSION_PATTERN.fullmatch(version)]
        if bad:
            raise ValueError(f"versions must look like v25.0, got {bad}")
        return value

    @field_validator("marketing_blocked_country_codes")
    @classmethod
    def _country_codes(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if not re.fullmatch(r"[1-9]\d{0,3}", code)]
        if bad:
            raise ValueError(f"country calling codes are 1–4 digits, got {bad}")
        return value

    @property
    def display_digits(self) -> str:
        """The business number as it appears in webhooks' ``metadata`` and ``context.from``."""
        return re.sub(r"\D", "", self.display_phone_number)

    def accepts_version(self, version: str) -> bool:
        if not VERSION_PATTERN.fullmatch(version):
            return False
        return not self.api_versions or version in self.api_versions

    def merged(self, patch: dict[str, Any]) -> SandboxConfig:
        """A new config with ``patch`` deep-merged in, validated as a whole."""
        return SandboxConfig.model_validate(_deep_merge(self.model_dump(), patch))


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "failure_codes":
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
