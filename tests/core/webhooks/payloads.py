"""Meta-shaped webhook bodies, built to the contract (../shared/whatsapp-cloud-api.md) and to
the inbound examples of Meta's OpenAPI description (facebook/openapi,
business-messaging-api_v23.0.yaml, ``/whatsapp/webhooks``), with our ids filled in."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

WABA_ID = "419561257915477"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "6281100000000"
APP_SECRET = "test-app-secret-0123"
VERIFY_TOKEN = "test-verify-token-0123"
METADATA = {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": PHONE_NUMBER_ID}


def ts(moment: datetime | float) -> str:
    """Meta's timestamps: unix seconds as a string."""
    seconds = moment.timestamp() if isinstance(moment, datetime) else moment
    return str(int(seconds))


def envelope(*changes: dict[str, Any], waba_id: str = WABA_ID) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": list(changes)}],
    }


def statuses_change(*statuses: dict[str, Any]) -> dict[str, Any]:
    return {
        "value": {
            "messaging_product": "whatsapp",
            "metadata": METADATA,
            "statuses": list(statuses),
        },
        "field": "messages",
    }


def status(
    wamid: str,
    state: str,
    at: datetime | float,
    *,
    recipient: str = "6281234567890",
    callback: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One item of ``value.statuses`` (v24+ shape: per-message pricing, no conversation)."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": ts(at),
        "recipient_id": recipient,
    }
    if callback is not None:
        item["biz_opaque_callback_data"] = callback
    if state in ("sent", "delivered", "read"):
        item["pricing"] = {
            "billable": True,
            "pricing_model": "PMP",
            "category": "marketing",
            "type": "regular",
        }
    if errors is not None:
        item["errors"] = errors
    return item


def error(code: int, title: str, message: str | None = None, details: str = "") -> dict[str, Any]:
    return {
        "code": code,
        "title": title,
        "message": message or title,
        "error_data": {"details": details or title},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }


def inbound_change(message: dict[str, Any], *, name: str = "Sheena Nelson") -> dict[str, Any]:
    return {
        "value": {
            "messaging_product": "whatsapp",
            "metadata": METADATA,
            "contacts": [{"profile": {"name": name}, "wa_id": message["from"]}],
            "messages": [message],
        },
        "field": "messages",
    }


def text_message(
    sender: str, body: str, at: datetime | float, *, wamid: str, context: str | None = None
) -> dict[str, Any]:
    """OpenAPI "Text Message" (and "Text Message with Context" when ``context`` is given)."""
    message: dict[str, Any] = {
        "from": sender,
        "id": wamid,
        "timestamp": ts(at),
        "type": "text",
        "text": {"body": body},
    }
    if context is not None:
        message["context"] = {"from": DISPLAY_NUMBER, "id": context}
    return message


def button_message(
    sender: str,
    text: str,
    at: datetime | float,
    *,
    wamid: str,
    context: str,
    payload: str | None = None,
) -> dict[str, Any]:
    """OpenAPI "Button Message": a quick-reply tap on a template, always with context."""
    return {
        "context": {"from": DISPLAY_NUMBER, "id": context},
        "from": sender,
        "id": wamid,
        "timestamp": ts(at),
        "type": "button",
        "button": {"payload": payload or text, "text": text},
    }


def interactive_reply(
    sender: str, title: str, at: datetime | float, *, wamid: str, context: str
) -> dict[str, Any]:
    """OpenAPI "Interactive Button Reply Message"."""
    return {
        "context": {"from": DISPLAY_NUMBER, "id": context},
        "from": sender,
        "id": wamid,
        "timestamp": ts(at),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": "b-1", "title": title}},
    }


def reaction_message(sender: str, at: datetime | float, *, wamid: str, to: str) -> dict[str, Any]:
    """OpenAPI "Reaction Message": not a reply."""
    return {
        "from": sender,
        "id": wamid,
        "timestamp": ts(at),
        "type": "reaction",
        "reaction": {"message_id": to, "emoji": "👍"},
    }


def preferences_change(sender: str, at: datetime | float, *, stop: bool) -> dict[str, Any]:
    return {
        "value": {
            "messaging_product": "whatsapp",
            "metadata": METADATA,
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": sender}],
            "user_preferences": [
                {
                    "wa_id": sender,
                    "detail": "User requested to stop marketing messages"
                    if stop
                    else "User requested to resume marketing messages",
                    "category": "marketing_messages",
                    "value": "stop" if stop else "resume",
                    "timestamp": int(float(ts(at))),
                }
            ],
        },
        "field": "user_preferences",
    }


def template_status_change(
    template_id: str, name: str, event: str, *, language: str = "id", reason: str | None = None
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "event": event,
        "message_template_id": int(template_id),
        "message_template_name": name,
        "message_template_language": language,
        "reason": reason or "NONE",
    }
    return {"value": value, "field": "message_template_status_update"}


def template_quality_change(
    template_id: str, name: str, new: str, previous: str = "GREEN"
) -> dict[str, Any]:
    return {
        "value": {
            "previous_quality_score": previous,
            "new_quality_score": new,
            "message_template_id": int(template_id),
            "message_template_name": name,
            "message_template_language": "id",
        },
        "field": "message_template_quality_update",
    }


def phone_quality_change(event: str, current_limit: str) -> dict[str, Any]:
    return {
        "value": {
            "display_phone_number": DISPLAY_NUMBER,
            "event": event,
            "current_limit": current_limit,
        },
        "field": "phone_number_quality_update",
    }


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def signature(raw: bytes, secret: str = APP_SECRET) -> str:
    """Computed here, independently of the code under test."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
