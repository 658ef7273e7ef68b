"""What the Cloud API client returns: small typed records read from Meta's answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Messaging limit: unique users reachable by business-initiated messages per rolling 24 h.
# TIER_2K and up are the portfolio-level values of Oct 2025; the rest are older per-number ones.
MESSAGING_LIMITS: dict[str, int | None] = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1_000,
    "TIER_2K": 2_000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
    "TIER_UNLIMITED": None,
    "UNLIMITED": None,
}
# Messages per second a business phone number may send at each throughput level.
THROUGHPUT_PER_SECOND: dict[str, int] = {"STANDARD": 80, "HIGH": 1_000}


@dataclass(frozen=True)
class SendResult:
    """Meta accepted a message: ``wamid`` identifies it in every later status webhook."""

    wamid: str
    wa_id: str | None
    input: str | None = None
    # "accepted" (or "held_for_quality_assessment"); older API versions omit it.
    message_status: str | None = None

    @classmethod
    def from_response(cls, body: dict[str, Any]) -> SendResult:
        message = body["messages"][0]
        contacts = body.get("contacts") or [{}]
        return cls(
            wamid=str(message["id"]),
            wa_id=_str_or_none(contacts[0].get("wa_id")),
            input=_str_or_none(contacts[0].get("input")),
            message_status=_str_or_none(message.get("message_status")),
        )


@dataclass(frozen=True)
class PhoneNumberInfo:
    """What "Test connection" shows about a business phone number."""

    id: str
    display_phone_number: str | None
    verified_name: str | None
    quality_rating: str | None  # GREEN, YELLOW, RED or UNKNOWN
    throughput_level: str | None  # STANDARD, HIGH or NOT_APPLICABLE
    messaging_limit_tier: str | None  # e.g. TIER_2K

    @property
    def messages_per_second(self) -> int | None:
        """The number's throughput in messages per second, when the level is known."""
        return THROUGHPUT_PER_SECOND.get(self.throughput_level or "")

    @property
    def messaging_limit(self) -> int | None:
        """Unique users per 24 h; None when unlimited or unknown (see ``messaging_limit_tier``)."""
        return MESSAGING_LIMITS.get(self.messaging_limit_tier or "")

    @classmethod
    def from_response(cls, body: dict[str, Any]) -> PhoneNumberInfo:
        throughput = body.get("throughput")
        level = throughput.get("level") if isinstance(throughput, dict) else None
        # The per-number messaging_limit_tier is deprecated (portfolio limits since v24).
        tier = body.get("whatsapp_business_manager_messaging_limit") or body.get(
            "messaging_limit_tier"
        )
        return cls(
            id=str(body["id"]),
            display_phone_number=_str_or_none(body.get("display_phone_number")),
            verified_name=_str_or_none(body.get("verified_name")),
            quality_rating=_str_or_none(body.get("quality_rating")),
            throughput_level=_str_or_none(level),
            messaging_limit_tier=_str_or_none(tier),
        )


@dataclass(frozen=True)
class MessageTemplate:
    """A message template as the WABA holds it (any status, not only APPROVED)."""

    id: str
    name: str
    language: str
    status: str
    category: str | None
    components: list[dict[str, Any]] = field(default_factory=list)
    parameter_format: str = "POSITIONAL"  # or NAMED
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_response(cls, item: dict[str, Any]) -> MessageTemplate:
        return cls(
            id=str(item["id"]),
            name=str(item["name"]),
            language=str(item["language"]),
            status=str(item["status"]),
            category=_str_or_none(item.get("category")),
            components=list(item.get("components") or []),
            parameter_format=str(item.get("parameter_format") or "POSITIONAL"),
            raw=item,
        )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
