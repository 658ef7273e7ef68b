"""Request bodies for ``POST /<version>/<phone_number_id>/messages``, as pure functions.

Each builder returns exactly the JSON the Cloud API expects (see Meta's OpenAPI examples)
and refuses input Meta would reject, with a message naming the field. The sender stores
their output in the outbox; the template preview shows it; the client posts it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from core.errors import InvalidInput

MediaKind = Literal["image", "document", "video"]
MEDIA_KINDS: tuple[str, ...] = ("image", "document", "video")
MAX_TEXT_BODY = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 512
_TO = re.compile(r"\+?[1-9]\d{5,14}")
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
_PARAMETER_NAME = re.compile(r"[a-z0-9_]+")
_BAD_PARAMETER_TEXT = re.compile(r"[\n\t]| {5,}")

Parameter = dict[str, Any]
ParameterValue = str | Parameter


def recipient(to: str) -> str:
    """``to`` as the Cloud API wants it: the digits of the E.164 number, no plus."""
    text = to.strip() if isinstance(to, str) else ""
    if not _TO.fullmatch(text):
        raise InvalidInput(
            f"Recipient {to!r} is not an international phone number (country code and "
            "number, 6 to 15 digits)."
        )
    return text.lstrip("+")


def callback_data(value: str) -> str:
    """Check ``biz_opaque_callback_data``: a non-empty string of at most 512 characters."""
    if not isinstance(value, str) or not value:
        raise InvalidInput("biz_opaque_callback_data must be a non-empty string.")
    if len(value) > MAX_CALLBACK_DATA:
        raise InvalidInput(
            f"biz_opaque_callback_data is {len(value)} characters; WhatsApp allows "
            f"{MAX_CALLBACK_DATA}."
        )
    return value


def _envelope(to: str, kind: str, callback: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": recipient(to),
        "type": kind,
    }
    if callback is not None:
        payload["biz_opaque_callback_data"] = callback_data(callback)
    return payload


def _text(value: Any, field: str, limit: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must be non-empty text.")
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"{field} is {len(value)} characters; WhatsApp allows {limit}.")
    return value


def text_message(
    to: str, body: str, *, preview_url: bool = False, callback: str | None = None
) -> dict[str, Any]:
    """A free-form text message (only inside the customer's 24-hour window)."""
    payload = _envelope(to, "text", callback)
    payload["text"] = {"body": _text(body, "Text body", MAX_TEXT_BODY), "preview_url": preview_url}
    return payload


def media_object(
    kind: str,
    *,
    link: str | None = None,
    media_id: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
) -> dict[str, Any]:
    """The ``image``/``document``/``video`` object: a public link or an uploaded media id."""
    if kind not in MEDIA_KINDS:
        raise InvalidInput(f"Media type {kind!r} is not one of {', '.join(MEDIA_KINDS)}.")
    if (link is None) == (media_id is None):
        raise InvalidInput(f"A {kind} needs exactly one of a link or an uploaded media id.")
    media: dict[str, Any] = {}
    if link is not None:
        if not isinstance(link, str) or not re.match(r"https?://[^\s/]+", link):
            raise InvalidInput(f"The {kind} link {link!r} is not an http(s) URL.")
        media["link"] = link
    else:
        media["id"] = _text(media_id, f"The {kind} media id")
    if caption is not None:
        media["caption"] = _text(caption, f"The {kind} caption", MAX_CAPTION)
    if filename is not None:
        if kind != "document":
            raise InvalidInput(f"Only documents have a filename, not a {kind}.")
        media["filename"] = _text(filename, "The document filename", 240)
    return media


def media_message(
    to: str,
    kind: MediaKind,
    *,
    link: str | None = None,
    media_id: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
    callback: str | None = None,
) -> dict[str, Any]:
    """An image, document or video message, by public link or uploaded media id."""
    media = media_object(kind, link=link, media_id=media_id, caption=caption, filename=filename)
    payload = _envelope(to, kind, callback)
    payload[kind] = media
    return payload


# --- template parameters -------------------------------------------------------------------


def text_parameter(value: str, name: str | None = None) -> Parameter:
    """A text parameter; ``name`` for templates with named placeholders (``{{first_name}}``)."""
    text = _text(value, "A template variable")
    if _BAD_PARAMETER_TEXT.search(text):
        # Meta refuses these (code 100, "Param text cannot have new-line/tab characters or
        # more than 4 consecutive spaces"); say so before the message is queued.
        raise InvalidInput(
            f"Template variable {name or ''}{' ' if name else ''}value {text[:40]!r} contains a "
            "line break, a tab or more than 4 spaces in a row, which WhatsApp does not allow."
        )
    return _named({"type": "text", "text": text}, name)


def currency_parameter(
    fallback_value: str, code: str, amount_1000: int, name: str | None = None
) -> Parameter:
    """A currency parameter: ``amount_1000`` is the amount times 1,000 (Rp 15.000 → 15000000)."""
    if not re.fullmatch(r"[A-Z]{3}", code or ""):
        raise InvalidInput(f"Currency code {code!r} is not an ISO 4217 code such as IDR.")
    if not isinstance(amount_1000, int) or isinstance(amount_1000, bool):
        raise InvalidInput("amount_1000 must be a whole number (the amount times 1,000).")
    currency = {
        "fallback_value": _text(fallback_value, "The currency fallback value"),
        "code": code,
        "amount_1000": amount_1000,
    }
    return _named({"type": "currency", "currency": currency}, name)


def date_time_parameter(fallback_value: str, name: str | None = None) -> Parameter:
    """A date/time parameter, shown to the customer as ``fallback_value``."""
    date_time = {"fallback_value": _text(fallback_value, "The date fallback value")}
    return _named({"type": "date_time", "date_time": date_time}, name)


def media_parameter(
    kind: MediaKind,
    *,
    link: str | None = None,
    media_id: str | None = None,
    filename: str | None = None,
) -> Parameter:
    """An image/document/video parameter for a media header."""
    return {"type": kind, kind: media_object(kind, link=link, media_id=media_id, filename=filename)}


def _named(parameter: Parameter, name: str | None) -> Parameter:
    if name is None:
        return parameter
    if not isinstance(name, str) or not _PARAMETER_NAME.fullmatch(name):
        raise InvalidInput(
            f"Variable name {name!r} must use lowercase letters, digits and underscores."
        )
    return {"type": parameter["type"], "parameter_name": name, **parameter}


def _parameters(
    values: Sequence[ParameterValue] | Mapping[str, ParameterValue], where: str
) -> list[Parameter]:
    """Positional values (a sequence) or named ones (a mapping) as a parameters list."""
    if isinstance(values, Mapping):
        pairs: list[tuple[str | None, ParameterValue]] = list(values.items())
    elif isinstance(values, Sequence) and not isinstance(values, str):
        pairs = [(None, value) for value in values]
    else:
        raise InvalidInput(f"The {where} variables must be a list or a name → value mapping.")
    parameters = []
    for name, value in pairs:
        if isinstance(value, str):
            parameters.append(text_parameter(value, name))
        elif isinstance(value, dict) and "type" in value:
            given = value.get("parameter_name")
            if name is not None and given is None:
                value = _named(value, name)
            elif name is not None and given != name:
                raise InvalidInput(f"The {where} variable {name!r} is labelled {given!r}.")
            parameters.append(value)
        else:
            raise InvalidInput(f"The {where} variable {name or len(parameters) + 1} is not text.")
    if len({"parameter_name" in parameter for parameter in parameters}) > 1:
        raise InvalidInput(f"The {where} mixes named and positional variables.")
    return parameters


@dataclass(frozen=True)
class QuickReplyButton:
    """The payload echoed back when the customer taps quick-reply button ``index``."""

    index: int
    payload: str


@dataclass(frozen=True)
class UrlButton:
    """The variable part appended to the URL of dynamic URL button ``index``."""

    index: int
    text: str


Button = QuickReplyButton | UrlButton
Header = str | Mapping[str, str] | Parameter
BodyValues = Sequence[ParameterValue] | Mapping[str, ParameterValue]


def template_components(
    *,
    header: Header | None = None,
    body: BodyValues | None = None,
    buttons: Sequence[Button] = (),
) -> list[dict[str, Any]]:
    """Components for a template message from header, body and button values.

    ``header``: positional text, ``{"name": "text"}`` for a named text header, or a media
    parameter (``media_parameter("image", link=...)``). ``body``: values for ``{{1}}``,
    ``{{2}}``… in order, or a mapping for named placeholders.
    """
    components: list[dict[str, Any]] = []
    if header is not None:
        if isinstance(header, dict) and "type" in header:
            parameters = [header]
        elif isinstance(header, str):
            parameters = [text_parameter(header)]
        else:
            parameters = _parameters(header, "header")
        if len(parameters) != 1:
            raise InvalidInput("A template header takes exactly one variable.")
        components.append({"type": "header", "parameters": parameters})
    if body:
        components.append({"type": "body", "parameters": _parameters(body, "body")})
    seen: set[int] = set()
    for button in buttons:
        if not isinstance(button.index, int) or not 0 <= button.index <= 9:
            raise InvalidInput(f"Button index {button.index!r} must be between 0 and 9.")
        if button.index in seen:
            raise InvalidInput(f"Button {button.index} is given twice.")
        seen.add(button.index)
        if isinstance(button, QuickReplyButton):
            sub_type = "quick_reply"
            parameter = {"type": "payload", "payload": _text(button.payload, "Button payload")}
        elif isinstance(button, UrlButton):
            sub_type = "url"
            parameter = text_parameter(button.text)
        else:
            raise InvalidInput(f"Unknown button {button!r}.")
        components.append(
            {
                "type": "button",
                "sub_type": sub_type,
                "index": str(button.index),
                "parameters": [parameter],
            }
        )
    return components


def template_message(
    to: str,
    name: str,
    language: str,
    *,
    components: Sequence[dict[str, Any]] | None = None,
    header: Header | None = None,
    body: BodyValues | None = None,
    buttons: Sequence[Button] = (),
    callback: str | None = None,
) -> dict[str, Any]:
    """An approved template message; give either raw ``components`` or header/body/buttons."""
    if not isinstance(name, str) or not _TEMPLATE_NAME.fullmatch(name):
        raise InvalidInput(
            f"Template name {name!r} must use lowercase letters, digits and underscores."
        )
    if not isinstance(language, str) or not re.fullmatch(r"[a-z]{2,3}(_[A-Za-z]{2,4})?", language):
        raise InvalidInput(f"Template language {language!r} is not a code such as id or en_US.")
    if components is not None and (header is not None or body or buttons):
        raise InvalidInput("Give either components or header/body/buttons, not both.")
    built = (
        list(components)
        if components is not None
        else template_components(header=header, body=body, buttons=buttons)
    )
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if built:
        template["components"] = built
    payload = _envelope(to, "template", callback)
    payload["template"] = template
    return payload
