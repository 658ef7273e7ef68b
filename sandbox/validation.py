"""Validation of ``POST /{version}/{phone_number_id}/messages`` bodies, as Meta checks them.

Hand-written rather than a schema framework: it runs on the hot path at a thousand requests a
second. ``validate_send`` returns what the sandbox needs to know about an acceptable message or
raises the ``GraphError`` Meta would answer with (code 100/131009 for malformed requests, the
132xxx codes for template problems). Limits and the 24-hour window are checked elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.errors import GraphError, invalid_parameter, invalid_value, parameter_required
from sandbox.templates import Template, TemplateStore

MAX_TEXT_BODY = 4096
MAX_CAPTION = 1024
MAX_FILENAME = 240
MAX_CALLBACK_DATA = 512
MAX_RENDERED_BODY = 1024
MEDIA_TYPES = ("image", "document", "video")
EMULATED_TYPES = ("text", "template", *MEDIA_TYPES)
OTHER_TYPES = ("audio", "sticker", "location", "contacts", "interactive", "reaction")
_TO = re.compile(r"\+?([1-9][0-9]{5,14})")
_TO_FORMATTING = re.compile(r"[\s\-().]")
_LINK = re.compile(r"https?://[^\s/]+\S*")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_BAD_TEXT_PARAMETER = re.compile(r"[\n\t]| {5,}")


@dataclass(slots=True)
class OutgoingMessage:
    """A send request that passed validation."""

    to_input: str
    wa_id: str
    type: str
    text: str  # the rendered body, text or caption, for the record and the demo
    template: Template | None = None
    biz_opaque_callback_data: str | None = None
    context_id: str | None = None

    @property
    def free_form(self) -> bool:
        return self.template is None


def recipient(raw: Any, business_digits: str) -> str:
    """The WhatsApp id (digits) for ``to``, or the error Meta gives for a malformed number."""
    if raw is None or raw == "":
        raise parameter_required("to")
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise invalid_value("Param to must be a phone number string.")
    match = _TO.fullmatch(_TO_FORMATTING.sub("", str(raw)))
    if match is None:
        raise invalid_value(
            f"The recipient {raw!r} is not a valid phone number: give the country code and "
            "number as 6 to 15 digits, e.g. 6281234567890."
        )
    wa_id = match.group(1)
    if wa_id == business_digits:
        raise GraphError(131021, "The recipient is this business phone number.")
    return wa_id


def validate_send(
    payload: Any, templates: TemplateStore, media: Mapping[str, str], business_digits: str
) -> OutgoingMessage:
    """Check a send request; ``media`` maps uploaded media ids to image/document/video."""
    if not isinstance(payload, dict):
        raise invalid_parameter("The request body must be a JSON object.")
    product = payload.get("messaging_product")
    if product is None:
        raise parameter_required("messaging_product")
    if product != "whatsapp":
        raise invalid_parameter(f'Param messaging_product must be "whatsapp", got {product!r}.')
    recipient_type = payload.get("recipient_type", "individual")
    if recipient_type != "individual":
        raise invalid_parameter(
            f'Param recipient_type must be "individual", got {recipient_type!r}.'
        )
    wa_id = recipient(payload.get("to"), business_digits)
    kind = payload.get("type", "text")
    if kind not in EMULATED_TYPES:
        if kind in OTHER_TYPES:
            raise invalid_parameter(
                f"Message type {kind!r} is valid on the Cloud API but the Siaran sandbox does not "
                "emulate it; it emulates text, image, document, video and template."
            )
        raise invalid_parameter(f"Param type must be one of {', '.join(EMULATED_TYPES)}.")
    callback = payload.get("biz_opaque_callback_data")
    if callback is not None and (
        not isinstance(callback, str) or len(callback) > MAX_CALLBACK_DATA
    ):
        raise invalid_parameter(
            f"Param biz_opaque_callback_data must be a string of at most {MAX_CALLBACK_DATA} "
            "characters."
        )
    message = OutgoingMessage(
        to_input=str(payload["to"]),
        wa_id=wa_id,
        type=kind,
        text="",
        biz_opaque_callback_data=callback,
        context_id=_context_id(payload.get("context")),
    )
    body = payload.get(kind)
    if kind == "text":
        message.text = _text_body(body)
    elif kind == "template":
        message.template, message.text = _template(body, templates, media)
    else:
        message.text = _media(kind, body, media, captioned=True)
    return message


def _context_id(context: Any) -> str | None:
    if context is None:
        return None
    if not isinstance(context, dict) or not isinstance(context.get("message_id"), str):
        raise invalid_parameter("Param context must be an object with a message_id string.")
    return context["message_id"]


def _text_body(text: Any) -> str:
    if text is None:
        raise parameter_required("text")
    if not isinstance(text, dict):
        raise invalid_parameter("Param text must be a JSON object.")
    body = text.get("body")
    if body is None or body == "":
        raise parameter_required("text['body']")
    if not isinstance(body, str):
        raise invalid_parameter("Param text['body'] must be a string.")
    if len(body) > MAX_TEXT_BODY:
        raise invalid_parameter(
            f"Param text['body'] must be at most {MAX_TEXT_BODY} characters long (got {len(body)})."
        )
    preview = text.get("preview_url", False)
    if not isinstance(preview, bool):
        raise invalid_parameter("Param text['preview_url'] must be a boolean.")
    return body


def _media(kind: str, obj: Any, media: Mapping[str, str], *, captioned: bool) -> str:
    """Check an image/document/video object; returns its caption."""
    if obj is None:
        raise parameter_required(kind)
    if not isinstance(obj, dict):
        raise invalid_parameter(f"Param {kind} must be a JSON object.")
    allowed = {"link", "id", "caption", "filename"} if captioned else {"link", "id", "filename"}
    for key in obj:
        if key not in allowed or (key == "filename" and kind != "document"):
            raise invalid_parameter(f"Param {kind}['{key}'] is not a valid parameter here.")
    link, media_id = obj.get("link"), obj.get("id")
    if (link is None) == (media_id is None):
        raise invalid_parameter(f"Param {kind} must have exactly one of 'link' or 'id'.")
    if link is not None and (not isinstance(link, str) or not _LINK.fullmatch(link)):
        raise invalid_parameter(f"Param {kind}['link'] must be an http(s) URL.")
    if media_id is not None:
        uploaded = media.get(media_id) if isinstance(media_id, str) else None
        if uploaded is None:
            raise invalid_value(f"Media id {media_id!r} was not uploaded to this phone number.")
        if uploaded != kind:
            raise invalid_value(f"Media id {media_id} is a(n) {uploaded}, not a(n) {kind}.")
    caption = obj.get("caption", "")
    if not isinstance(caption, str) or len(caption) > MAX_CAPTION:
        raise invalid_parameter(f"Param {kind}['caption'] must be text of at most {MAX_CAPTION}.")
    filename = obj.get("filename", "")
    if not isinstance(filename, str) or len(filename) > MAX_FILENAME:
        raise invalid_parameter(f"Param {kind}['filename'] must be text of at most {MAX_FILENAME}.")
    return caption


def _template(obj: Any, templates: TemplateStore, media: Mapping[str, str]) -> tuple[Template, str]:
    if obj is None:
        raise parameter_required("template")
    if not isinstance(obj, dict):
        raise invalid_parameter("Param template must be a JSON object.")
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise parameter_required("template['name']")
    language = obj.get("language")
    code = language.get("code") if isinstance(language, dict) else None
    if not isinstance(code, str) or not code:
        raise parameter_required("template['language']['code']")
    template = templates.lookup(name, code)
    if template is None:
        raise GraphError(132001, f"template name ({name}) does not exist in {code}")
    if template.status == "PAUSED":
        raise GraphError(
            132015,
            "Template is paused due to low quality so it cannot be sent in a template message",
        )
    if template.status == "DISABLED":
        raise GraphError(
            132016,
            "Template has been paused too many times due to low quality and is now "
            "permanently disabled",
        )
    if template.status != "APPROVED":
        raise GraphError(
            132001,
            f"template name ({name}) does not exist in {code} "
            f"(its status is {template.status}, only APPROVED templates can be sent)",
        )
    components = obj.get("components", [])
    if not isinstance(components, list):
        raise invalid_parameter("Param template['components'] must be a list.")
    header, body, buttons = _split_components(components)
    header_values = _header(template, header, media)
    body_values = _values(template, "body", template.body_vars, body)
    _buttons(template, buttons)
    rendered = _render(template.body_text, body_values)
    if len(rendered) > MAX_RENDERED_BODY:
        raise GraphError(
            132005,
            f"The body is {len(rendered)} characters once its variables are filled in; "
            f"the limit is {MAX_RENDERED_BODY}.",
        )
    header_text = ""
    if template.header_format == "TEXT":
        header_text = _render(_component_text(template, "HEADER"), header_values) + "\n"
    return template, header_text + rendered


def _split_components(
    components: list[Any],
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[int, dict[str, Any]]]:
    header = body = None
    buttons: dict[int, dict[str, Any]] = {}
    for component in components:
        if not isinstance(component, dict):
            raise invalid_parameter("Every template component must be a JSON object.")
        kind = str(component.get("type", "")).lower()
        if kind == "header" and header is None:
            header = component
        elif kind == "body" and body is None:
            body = component
        elif kind == "button":
            index = component.get("index")
            if isinstance(index, str) and index.isdigit():
                index = int(index)
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= 9:
                raise invalid_parameter("Param index of a button component must be 0 to 9.")
            if index in buttons:
                raise invalid_parameter(f"Button index {index} is given twice.")
            buttons[index] = component
        elif kind in ("header", "body"):
            raise invalid_parameter(f"The template component {kind} is given twice.")
        else:
            raise invalid_parameter(
                f"Template component type {component.get('type')!r} must be header, body or button."
            )
    return header, body, buttons


def _parameters(component: dict[str, Any] | None, where: str) -> list[Any]:
    if component is None:
        return []
    parameters = component.get("parameters", [])
    if not isinstance(parameters, list):
        raise invalid_parameter(f"Param {where}['parameters'] must be a list.")
    return parameters


def _mismatch(where: str, got: int, expected: int) -> GraphError:
    return GraphError(
        132000,
        f"{where}: number of localizable_params ({got}) does not match the expected number of "
        f"params ({expected})",
    )


def _header(
    template: Template, component: dict[str, Any] | None, media: Mapping[str, str]
) -> dict[str, str]:
    fmt = template.header_format
    if fmt in ("IMAGE", "DOCUMENT", "VIDEO"):
        parameters = _parameters(component, "header")
        if len(parameters) != 1:
            raise _mismatch("header", len(parameters), 1)
        parameter = parameters[0]
        kind = parameter.get("type") if isinstance(parameter, dict) else None
        if kind != fmt.lower():
            raise GraphError(
                132012, f"header: the template's header is {fmt}, the parameter is {kind!r}"
            )
        _media(kind, parameter.get(kind), media, captioned=False)
        return {}
    if fmt == "LOCATION":
        parameters = _parameters(component, "header")
        if len(parameters) != 1:
            raise _mismatch("header", len(parameters), 1)
        location = parameters[0].get("location") if isinstance(parameters[0], dict) else None
        if not isinstance(location, dict) or not {"latitude", "longitude"} <= set(location):
            raise GraphError(132012, "header: the template's header needs a location parameter")
        return {}
    return _values(template, "header", template.header_vars, component)


def _values(
    template: Template, where: str, expected: list[str], component: dict[str, Any] | None
) -> dict[str, str]:
    """Placeholder -> display text for a header or body, after Meta's checks."""
    parameters = _parameters(component, where)
    names = [p.get("parameter_name") if isinstance(p, dict) else None for p in parameters]
    if not template.named and any(name is not None for name in names):
        raise GraphError(
            132012, f"{where}: parameter_name is only for templates with named parameters"
        )
    if len(parameters) != len(expected):
        raise _mismatch(where, len(parameters), len(expected))
    if template.named:
        if any(not isinstance(name, str) for name in names):
            raise GraphError(
                132012, f"{where}: every parameter of a named template needs a parameter_name"
            )
        if sorted(names) != sorted(expected):
            raise GraphError(
                132012,
                f"{where}: parameter names {sorted(set(names) - set(expected))} are not in the "
                f"template; it expects {expected}",
            )
        keys = names
    else:
        keys = expected
    return {key: _display_text(p, where) for key, p in zip(keys, parameters, strict=True)}


def _display_text(parameter: Any, where: str) -> str:
    if not isinstance(parameter, dict):
        raise invalid_parameter(f"Every {where} parameter must be a JSON object.")
    kind = parameter.get("type")
    if kind == "text":
        text = parameter.get("text")
        if not isinstance(text, str) or not text:
            raise parameter_required(f"{where} parameter text")
        if where == "body" and _BAD_TEXT_PARAMETER.search(text):
            raise invalid_parameter(
                "Param text cannot have new-line/tab characters or more than 4 consecutive spaces"
            )
        return text
    if kind in ("currency", "date_time"):
        value = parameter.get(kind)
        fallback = value.get("fallback_value") if isinstance(value, dict) else None
        if not isinstance(fallback, str) or not fallback:
            raise parameter_required(f"{where} parameter {kind}['fallback_value']")
        if kind == "currency" and (
            not isinstance(value.get("code"), str)
            or not isinstance(value.get("amount_1000"), int)
            or isinstance(value.get("amount_1000"), bool)
        ):
            raise invalid_parameter("Param currency needs a code and an integer amount_1000.")
        return fallback
    raise GraphError(132012, f"{where}: parameter type {kind!r} cannot be used here")


def _buttons(template: Template, given: dict[int, dict[str, Any]]) -> None:
    by_index = {button.index: button for button in template.buttons}
    for index, component in given.items():
        button = by_index.get(index)
        if button is None:
            raise invalid_value(f"The template has no button at index {index}.")
        sub_type = str(component.get("sub_type", "")).lower()
        parameters = _parameters(component, f"button {index}")
        if sub_type == "url":
            if not button.takes_parameter:
                raise invalid_value(f"Button {index} ({button.type}) takes no url parameter.")
            if len(parameters) != 1:
                raise _mismatch(f"button at index {index}", len(parameters), 1)
            if not isinstance(parameters[0], dict) or parameters[0].get("type") != "text":
                raise GraphError(132012, f"button at index {index}: the parameter must be text")
            if not isinstance(parameters[0].get("text"), str) or not parameters[0]["text"]:
                raise parameter_required(f"button {index} parameter text")
        elif sub_type == "quick_reply":
            if button.type != "QUICK_REPLY":
                raise invalid_value(f"Button {index} is a {button.type} button, not quick_reply.")
            if len(parameters) != 1:
                raise _mismatch(f"button at index {index}", len(parameters), 1)
            parameter = parameters[0]
            if not isinstance(parameter, dict) or parameter.get("type") not in ("payload", "text"):
                raise GraphError(132012, f"button at index {index}: use a payload parameter")
        else:
            raise invalid_parameter(
                f"Param sub_type of button {index} must be url or quick_reply "
                f"(got {component.get('sub_type')!r})."
            )
    for button in template.buttons:
        if button.takes_parameter and button.index not in given:
            raise _mismatch(f"button at index {button.index}", 0, 1)


def _component_text(template: Template, kind: str) -> str:
    for component in template.components:
        if str(component.get("type", "")).upper() == kind:
            return str(component.get("text", ""))
    return ""


def _render(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)
