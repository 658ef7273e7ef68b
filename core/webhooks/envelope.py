"""Meta's webhook envelope, read into the updates Siaran acts on.

    {"object": "whatsapp_business_account", "entry": [{"id": <waba>, "changes": [
        {"field": "messages", "value": {"statuses": [...], "messages": [...], "contacts": [...]}},
        {"field": "user_preferences", "value": {"user_preferences": [...], "contacts": [...]}},
        {"field": "message_template_status_update", "value": {"event", "message_template_id", ...}},
        {"field": "message_template_quality_update", "value": {"new_quality_score", ...}},
        {"field": "phone_number_quality_update", "value": {"event", "current_limit", ...}}]}]}

Reading is forgiving where Meta may add things (unknown fields, message types and keys
are skipped and counted) and strict where a value is needed to act (a status without an
id or a known status is skipped, not guessed). ``read_envelope`` never raises on a JSON
object; a body that is not one is refused earlier, at the door.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STATUS_VALUES = ("sent", "delivered", "read", "failed")
#: Inbound message types that are not a customer answering (Meta's own notices).
NOT_REPLIES = frozenset({"system", "unsupported", "reaction", "ephemeral", "request_welcome"})


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    wamid: str
    status: str  # one of STATUS_VALUES
    at: datetime
    recipient: str | None
    message_id: uuid.UUID | None  # ours, from biz_opaque_callback_data
    errors: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class InboundMessage:
    wamid: str
    sender: str  # the customer's WhatsApp id (digits of their number)
    at: datetime
    kind: str  # text, button, interactive, image, ...
    text: str | None  # what they wrote or tapped; a caption or "[image]" for media
    keyword_texts: tuple[str, ...]  # texts checked against the opt-out/opt-in keywords
    context_wamid: str | None  # the message they answered, when they used "reply"
    profile_name: str | None


@dataclass(frozen=True, slots=True)
class PreferenceUpdate:
    """Meta's ``user_preferences``: the customer stopped or resumed marketing messages."""

    sender: str
    at: datetime
    stop: bool
    detail: str
    profile_name: str | None


@dataclass(frozen=True, slots=True)
class TemplateStatusUpdate:
    meta_template_id: str | None
    name: str | None
    language: str | None
    event: str
    reason: str | None
    waba_id: str | None


@dataclass(frozen=True, slots=True)
class TemplateQualityUpdate:
    meta_template_id: str | None
    name: str | None
    language: str | None
    quality: str
    waba_id: str | None


@dataclass(frozen=True, slots=True)
class PhoneQualityUpdate:
    display_phone_number: str | None
    event: str
    current_limit: str | None
    quality_rating: str | None
    waba_id: str | None


@dataclass
class Updates:
    """Everything one or more webhook bodies asked for, in arrival order per kind."""

    statuses: list[StatusUpdate] = field(default_factory=list)
    messages: list[InboundMessage] = field(default_factory=list)
    preferences: list[PreferenceUpdate] = field(default_factory=list)
    template_statuses: list[TemplateStatusUpdate] = field(default_factory=list)
    template_qualities: list[TemplateQualityUpdate] = field(default_factory=list)
    phone_qualities: list[PhoneQualityUpdate] = field(default_factory=list)
    skipped: int = 0  # items Siaran does not act on (other fields, malformed items)

    def extend(self, other: Updates) -> None:
        self.statuses += other.statuses
        self.messages += other.messages
        self.preferences += other.preferences
        self.template_statuses += other.template_statuses
        self.template_qualities += other.template_qualities
        self.phone_qualities += other.phone_qualities
        self.skipped += other.skipped

    @property
    def count(self) -> int:
        return (
            len(self.statuses) + len(self.messages) + len(self.preferences)
            + len(self.template_statuses) + len(self.template_qualities)
            + len(self.phone_qualities)
        )  # fmt: skip


def first_field(payload: dict[str, Any]) -> str | None:
    """The ``field`` of the body's first change (what ``webhook_events.field`` shows)."""
    for entry in _list(payload.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            name = _dict(change).get("field")
            if isinstance(name, str):
                return name[:64]
    return None


def update_count(payload: dict[str, Any]) -> int:
    """How many updates a body carries (statuses, messages, other changes), cheaply."""
    total = 0
    for entry in _list(payload.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            value = _dict(_dict(change).get("value"))
            items = len(_list(value.get("statuses"))) + len(_list(value.get("messages")))
            items += len(_list(value.get("user_preferences")))
            total += items or 1
    return total


def read_envelope(payload: dict[str, Any]) -> Updates:
    """The updates in one webhook body."""
    updates = Updates()
    if payload.get("object") not in (None, "whatsapp_business_account"):
        updates.skipped += 1
        return updates
    for entry in _list(payload.get("entry")):
        entry = _dict(entry)
        waba_id = _text(entry.get("id"))
        for change in _list(entry.get("changes")):
            change = _dict(change)
            _read_change(str(change.get("field") or ""), _dict(change.get("value")), waba_id,
                         updates)  # fmt: skip
    return updates


def _read_change(name: str, value: dict[str, Any], waba_id: str | None, out: Updates) -> None:
    if name == "messages":
        names = _profile_names(value)
        for item in _list(value.get("statuses")):
            _append(out.statuses, _status(_dict(item)), out)
        for item in _list(value.get("messages")):
            _append(out.messages, _message(_dict(item), names), out)
    elif name == "user_preferences":
        names = _profile_names(value)
        for item in _list(value.get("user_preferences")):
            _append(out.preferences, _preference(_dict(item), names), out)
    elif name == "message_template_status_update":
        _append(out.template_statuses, _template_status(value, waba_id), out)
    elif name == "message_template_quality_update":
        _append(out.template_qualities, _template_quality(value, waba_id), out)
    elif name == "phone_number_quality_update":
        _append(out.phone_qualities, _phone_quality(value, waba_id), out)
    else:
        out.skipped += 1


def _append(target: list[Any], item: Any, out: Updates) -> None:
    if item is None:
        out.skipped += 1
    else:
        target.append(item)


# --- items ----------------------------------------------------------------------------------


def _status(item: dict[str, Any]) -> StatusUpdate | None:
    wamid = _text(item.get("id"))
    status = item.get("status")
    at = timestamp(item.get("timestamp"))
    if wamid is None or status not in STATUS_VALUES or at is None:
        return None
    errors = tuple(_dict(e) for e in _list(item.get("errors")) if isinstance(e, dict))
    return StatusUpdate(
        wamid=wamid,
        status=status,
        at=at,
        recipient=_text(item.get("recipient_id")),
        message_id=callback_id(item.get("biz_opaque_callback_data")),
        errors=errors,
    )


def _message(item: dict[str, Any], names: dict[str, str]) -> InboundMessage | None:
    wamid = _text(item.get("id"))
    sender = _text(item.get("from"))
    at = timestamp(item.get("timestamp"))
    kind = _text(item.get("type")) or "unknown"
    if wamid is None or sender is None or at is None:
        return None
    text, keyword_texts = _content(kind, item)
    context = _dict(item.get("context"))
    return InboundMessage(
        wamid=wamid,
        sender=sender,
        at=at,
        kind=kind,
        text=text,
        keyword_texts=keyword_texts,
        context_wamid=_text(context.get("id")),
        profile_name=names.get(sender),
    )


def _content(kind: str, item: dict[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    """What the customer said, and the texts that may be a keyword (typed or tapped)."""
    body = _dict(item.get(kind))
    if kind == "text":
        text = _text(body.get("body"))
        return text, (text,) if text else ()
    if kind == "button":  # a quick-reply button of a template
        text, payload = _text(body.get("text")), _text(body.get("payload"))
        return text or payload, tuple(t for t in (text, payload) if t)
    if kind == "interactive":
        reply = _dict(body.get("button_reply")) or _dict(body.get("list_reply"))
        title, reply_id = _text(reply.get("title")), _text(reply.get("id"))
        return title or reply_id, tuple(t for t in (title,) if t)
    if kind in ("image", "video", "document", "audio", "sticker", "location", "contacts"):
        caption = _text(body.get("caption")) if body else None
        return caption or f"[{kind}]", ()
    return None, ()


def _preference(item: dict[str, Any], names: dict[str, str]) -> PreferenceUpdate | None:
    sender = _text(item.get("wa_id"))
    at = timestamp(item.get("timestamp"))
    value = item.get("value")
    if sender is None or at is None or value not in ("stop", "resume"):
        return None
    if item.get("category") not in (None, "marketing_messages"):
        return None
    return PreferenceUpdate(
        sender=sender,
        at=at,
        stop=value == "stop",
        detail=_text(item.get("detail")) or f"User chose to {value} marketing messages",
        profile_name=names.get(sender),
    )


def _template_status(value: dict[str, Any], waba_id: str | None) -> TemplateStatusUpdate | None:
    event = _text(value.get("event"))
    template_id = _text(value.get("message_template_id"))
    name = _text(value.get("message_template_name"))
    if event is None or (template_id is None and name is None):
        return None
    reason = _text(value.get("reason"))
    other = _dict(value.get("other_info"))
    if other.get("description"):
        reason = (
            f"{reason}: {other['description']}"
            if reason not in (None, "NONE")
            else str(other["description"])
        )
    return TemplateStatusUpdate(
        meta_template_id=template_id,
        name=name,
        language=_text(value.get("message_template_language")),
        event=event.upper(),
        reason=None if reason in (None, "NONE") else reason,
        waba_id=waba_id,
    )


def _template_quality(value: dict[str, Any], waba_id: str | None) -> TemplateQualityUpdate | None:
    quality = _text(value.get("new_quality_score"))
    template_id = _text(value.get("message_template_id"))
    name = _text(value.get("message_template_name"))
    if quality is None or (template_id is None and name is None):
        return None
    return TemplateQualityUpdate(
        meta_template_id=template_id,
        name=name,
        language=_text(value.get("message_template_language")),
        quality=quality.upper(),
        waba_id=waba_id,
    )


def _phone_quality(value: dict[str, Any], waba_id: str | None) -> PhoneQualityUpdate | None:
    event = _text(value.get("event"))
    if event is None:
        return None
    rating = _text(value.get("quality_rating") or value.get("new_quality_score"))
    return PhoneQualityUpdate(
        display_phone_number=_text(value.get("display_phone_number")),
        event=event.upper(),
        current_limit=_text(value.get("current_limit")),
        quality_rating=rating.upper() if rating else None,
        waba_id=waba_id,
    )


# --- small readers --------------------------------------------------------------------------


def timestamp(value: Any) -> datetime | None:
    """Meta's unix seconds (a string or a number) as an aware UTC datetime."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not 0 < seconds < 32503680000:  # before the year 3000
        return None
    return datetime.fromtimestamp(seconds, UTC)


def callback_id(value: Any) -> uuid.UUID | None:
    """Our ``campaign_messages.id`` from ``biz_opaque_callback_data``; None for anything else."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def _profile_names(value: dict[str, Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    for contact in _list(value.get("contacts")):
        contact = _dict(contact)
        wa_id = _text(contact.get("wa_id"))
        name = _text(_dict(contact.get("profile")).get("name"))
        if wa_id and name:
            names[wa_id] = name[:200]
    return names


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text or None
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
