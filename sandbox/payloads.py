"""Webhook payloads in Meta's shapes: statuses, inbound messages, preferences, template events.

Each event is one ``WebhookEvent``; ``envelope`` turns a batch of them into the body of one
POST (``{"object": "whatsapp_business_account", "entry": [...]}``): statuses of a batch share
one ``messages`` change, every inbound message or preference change gets its own change, and
template status updates travel in their own entry with a ``time``. Status pricing follows the
per-message model (``pricing_model: "PMP"``, no ``conversation`` object), as from v24.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.errors import webhook_error

FIRST_NAMES = (
    "Budi", "Siti", "Ayu", "Dewi", "Rina", "Agus", "Putri", "Andi", "Wahyu", "Sri",
    "Eko", "Lestari", "Joko", "Indah", "Rizky", "Nur", "Fajar", "Maya", "Hendra", "Yuni",
)  # fmt: skip
LAST_NAMES = (
    "Santoso", "Wijaya", "Saputra", "Lestari", "Hidayat", "Kurniawan", "Pratama", "Susanti",
    "Nugroho", "Wulandari",
)  # fmt: skip


@dataclass(slots=True)
class WebhookEvent:
    """One update to deliver: a status, an inbound message, a preference or a template event."""

    kind: str  # "status" | "message" | "user_preferences" | "template"
    value: dict[str, Any]
    contact: dict[str, Any] | None = None


def profile_name(wa_id: str) -> str:
    """A stable, plausible Indonesian name for a WhatsApp user."""
    digest = hashlib.blake2b(wa_id.encode(), digest_size=2).digest()
    return f"{FIRST_NAMES[digest[0] % len(FIRST_NAMES)]} {LAST_NAMES[digest[1] % len(LAST_NAMES)]}"


def wamid(wa_id: str, token: str, inbound: bool = False) -> str:
    """A message id shaped like Meta's: ``wamid.`` and base64 of the chat and a random part."""
    marker = b"\x15\x02\x00\x12\x18\x14" if inbound else b"\x15\x02\x00\x11\x18\x12"
    raw = bytes([0x1C, 0x18, len(wa_id)]) + wa_id.encode() + marker + token.encode() + b"\x00"
    return "wamid." + base64.b64encode(raw).decode()


def pricing(category: str, billable: bool) -> dict[str, Any]:
    """The per-message pricing object of sent/delivered/read statuses."""
    return {
        "billable": billable,
        "pricing_model": "PMP",
        "category": category,
        "type": "regular" if billable else "free_customer_service",
    }


def status_event(
    *,
    message_id: str,
    status: str,
    timestamp: float,
    recipient_id: str,
    callback: str | None,
    price: dict[str, Any] | None,
    error: tuple[int, str | None] | None = None,
) -> WebhookEvent:
    item: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(int(timestamp)),
        "recipient_id": recipient_id,
    }
    if callback is not None:
        item["biz_opaque_callback_data"] = callback
    if price is not None:
        item["pricing"] = price
    if error is not None:
        item["errors"] = [webhook_error(*error)]
    return WebhookEvent("status", item)


def inbound_event(
    *,
    message_id: str,
    wa_id: str,
    timestamp: float,
    name: str,
    text: str | None = None,
    button: tuple[str, str] | None = None,
    context: tuple[str, str] | None = None,
) -> WebhookEvent:
    """A customer's message: ``text``, or a quick-reply tap ``button`` = (text, payload).

    ``context`` = (our display number digits, wamid replied to) when it answers a message.
    """
    message: dict[str, Any] = {"from": wa_id, "id": message_id, "timestamp": str(int(timestamp))}
    if context is not None:
        message["context"] = {"from": context[0], "id": context[1]}
    if button is not None:
        message["type"] = "button"
        message["button"] = {"payload": button[1], "text": button[0]}
    else:
        message["type"] = "text"
        message["text"] = {"body": text or ""}
    return WebhookEvent("message", message, contact={"profile": {"name": name}, "wa_id": wa_id})


def user_preferences_event(*, wa_id: str, name: str, timestamp: float, stop: bool) -> WebhookEvent:
    preference = {
        "wa_id": wa_id,
        "detail": "User requested to stop marketing messages"
        if stop
        else "User requested to resume marketing messages",
        "category": "marketing_messages",
        "value": "stop" if stop else "resume",
        "timestamp": int(timestamp),
    }
    return WebhookEvent(
        "user_preferences", preference, contact={"profile": {"name": name}, "wa_id": wa_id}
    )


def template_status_event(
    *, template_id: str, name: str, language: str, event: str, reason: str | None
) -> WebhookEvent:
    value: dict[str, Any] = {
        "event": event,
        "message_template_id": int(template_id),
        "message_template_name": name,
        "message_template_language": language,
        "reason": reason or "NONE",
    }
    if event == "PAUSED":
        value["other_info"] = {
            "title": "FIRST_PAUSE",
            "description": "Your message template has been paused for 3 hours because of "
            "low quality: customers reported or blocked it.",
        }
    return WebhookEvent("template", value)


def envelope(events: list[WebhookEvent], config: SandboxConfig, now: float) -> dict[str, Any]:
    """The body of one webhook POST carrying ``events``."""
    metadata = {
        "display_phone_number": config.display_digits,
        "phone_number_id": config.phone_number_id,
    }
    changes: list[dict[str, Any]] = []
    statuses = [event.value for event in events if event.kind == "status"]
    if statuses:
        changes.append(
            {
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": metadata,
                    "statuses": statuses,
                },
                "field": "messages",
            }
        )
    template_changes = []
    for event in events:
        if event.kind == "message":
            value = {
                "messaging_product": "whatsapp",
                "metadata": metadata,
                "contacts": [event.contact],
                "messages": [event.value],
            }
            changes.append({"value": value, "field": "messages"})
        elif event.kind == "user_preferences":
            value = {
                "messaging_product": "whatsapp",
                "metadata": metadata,
                "contacts": [event.contact],
                "user_preferences": [event.value],
            }
            changes.append({"value": value, "field": "user_preferences"})
        elif event.kind == "template":
            template_changes.append(
                {"value": event.value, "field": "message_template_status_update"}
            )
    entries: list[dict[str, Any]] = []
    if changes:
        entries.append({"id": config.waba_id, "changes": changes})
    if template_changes:
        entries.append({"id": config.waba_id, "time": int(now), "changes": template_changes})
    return {"object": "whatsapp_business_account", "entry": entries}
