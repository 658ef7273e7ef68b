"""What a campaign says: the shape of ``message_content`` and ``template_variables``.

``campaigns.message_content`` by ``message_type``::

    text                  {"body": "Halo {name}, ...", "preview_url": false,
                           "fallbacks": {"city": "kota Anda"}}
    image, video          {"link": "https://..."} or {"media_id": "123"}, "caption": "...",
                          "fallbacks": {...}
    document              as image, plus "filename": "katalog.pdf"
    template              {}  (the template is ``whatsapp_template_id``)

``{name}``, ``{phone}`` and ``{<custom field>}`` (or ``{{name}}``, as in WhatsApp templates)
in a text body or caption are filled per contact; ``fallbacks`` gives the value used when a
contact has none. Other braces (``{50%}``) are left as written.

``campaigns.template_variables`` maps each variable of the approved template (its key from
``core.templates``: ``body.1``, ``header.media``, ``button.0.1``, ``body.first_name``) to::

    {"source": "field", "value": "name" | "phone" | "<custom field>", "fallback": "Kak"}
    {"source": "fixed", "value": "DISKON50"}

Drafts may be incomplete: ``check_draft`` only refuses what is malformed. ``problems``
lists everything that keeps a campaign from being sent, for schedule and launch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidInput
from core.templates import extract_variables, render, sample_values
from sender.payloads import MAX_CAPTION, MAX_TEXT_BODY, MEDIA_KINDS
from sql.schema import MESSAGE_TYPES, WhatsAppTemplate

# {city}, or {{city}} as owners used to WhatsApp templates write it.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
BUILTIN_FIELDS = ("name", "phone")
MAX_FILENAME = 240
MAX_FIELD_NAME = 100
_KEYS: dict[str, tuple[str, ...]] = {
    "text": ("body", "preview_url", "fallbacks"),
    "image": ("link", "media_id", "caption", "fallbacks"),
    "video": ("link", "media_id", "caption", "fallbacks"),
    "document": ("link", "media_id", "caption", "filename", "fallbacks"),
    "template": (),
}
_VARIABLE_KEY = re.compile(r"^(header|body)\.[A-Za-z0-9_]+$|^button\.\d\.[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class VariableMapping:
    """Where one template variable's value comes from for each recipient."""

    source: str  # "field" or "fixed"
    value: str
    fallback: str | None = None


def placeholders(text: str | None) -> list[str]:
    """The ``{field}`` names in ``text``, each once, in order of appearance."""
    seen: list[str] = []
    for doubled, single in PLACEHOLDER.findall(text or ""):
        name = doubled or single
        if name not in seen:
            seen.append(name)
    return seen


def personal_text(message_type: str, content: dict[str, Any]) -> str | None:
    """The text personalized with ``{field}`` placeholders: the body or the caption."""
    if message_type == "text":
        return content.get("body")
    if message_type in MEDIA_KINDS:
        return content.get("caption")
    return None


def mappings(variables: dict[str, Any]) -> dict[str, VariableMapping]:
    """``template_variables`` as mappings (already checked by ``check_draft``)."""
    return {
        key: VariableMapping(spec["source"], spec["value"], spec.get("fallback"))
        for key, spec in variables.items()
    }


# --- drafts: well-formed, maybe incomplete ---------------------------------------------------


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _check_fallbacks(value: Any, errors: list[dict[str, str]]) -> None:
    if not isinstance(value, dict):
        errors.append({"path": "message_content.fallbacks", "message": "expected an object"})
        return
    for name, fallback in value.items():
        path = f"message_content.fallbacks.{name}"
        if not PLACEHOLDER.fullmatch("{" + str(name) + "}"):
            errors.append({"path": path, "message": "not a field name (letters, digits, _)"})
        elif not _is_text(fallback) or not fallback.strip():
            errors.append({"path": path, "message": "the fallback must be non-empty text"})


def _check_content(message_type: str, content: Any, errors: list[dict[str, str]]) -> None:
    if not isinstance(content, dict):
        errors.append({"path": "message_content", "message": "expected an object"})
        return
    allowed = _KEYS[message_type]
    for key in sorted(set(content) - set(allowed)):
        hint = f"; a {message_type} message takes {', '.join(allowed)}" if allowed else ""
        errors.append({"path": f"message_content.{key}", "message": f"unknown field{hint}"})
    limits = {"body": MAX_TEXT_BODY, "caption": MAX_CAPTION, "filename": MAX_FILENAME}
    for key, limit in limits.items():
        value = content.get(key)
        if key not in allowed or value is None:
            continue
        if not _is_text(value):
            errors.append({"path": f"message_content.{key}", "message": "expected text"})
        elif len(value) > limit:
            errors.append(
                {
                    "path": f"message_content.{key}",
                    "message": f"{len(value)} characters; WhatsApp allows {limit}",
                }
            )
    if "preview_url" in content and not isinstance(content["preview_url"], bool):
        errors.append({"path": "message_content.preview_url", "message": "expected true/false"})
    link = content.get("link")
    if link is not None and (not _is_text(link) or not re.match(r"https://[^\s/]+\S*$", link)):
        errors.append(
            {"path": "message_content.link", "message": "expected a public https:// address"}
        )
    media_id = content.get("media_id")
    if media_id is not None and (not _is_text(media_id) or not media_id.strip()):
        errors.append({"path": "message_content.media_id", "message": "expected a media id"})
    if link is not None and media_id is not None:
        errors.append(
            {"path": "message_content", "message": "give either a link or a media id, not both"}
        )
    if "fallbacks" in content:
        _check_fallbacks(content["fallbacks"], errors)


def _check_variables(variables: Any, errors: list[dict[str, str]]) -> None:
    if not isinstance(variables, dict):
        errors.append({"path": "template_variables", "message": "expected an object"})
        return
    for key, spec in variables.items():
        path = f"template_variables.{key}"
        if not _VARIABLE_KEY.match(str(key)):
            errors.append(
                {"path": path, "message": "not a template variable (body.1, header.media, ...)"}
            )
            continue
        if not isinstance(spec, dict):
            errors.append({"path": path, "message": 'expected {"source": ..., "value": ...}'})
            continue
        for extra in sorted(set(spec) - {"source", "value", "fallback"}):
            errors.append({"path": f"{path}.{extra}", "message": "unknown field"})
        if spec.get("source") not in ("field", "fixed"):
            errors.append({"path": f"{path}.source", "message": 'expected "field" or "fixed"'})
        value = spec.get("value")
        if not _is_text(value) or not value.strip():
            errors.append({"path": f"{path}.value", "message": "expected non-empty text"})
        elif spec.get("source") == "field" and (
            len(value) > MAX_FIELD_NAME or value.strip() != value
        ):
            errors.append({"path": f"{path}.value", "message": "not a contact field name"})
        fallback = spec.get("fallback")
        if fallback is not None and (not _is_text(fallback) or not fallback.strip()):
            errors.append({"path": f"{path}.fallback", "message": "expected non-empty text"})


def check_draft(message_type: str, content: Any, variables: Any) -> None:
    """Refuse malformed content or variables (InvalidInput listing each); allow gaps."""
    errors: list[dict[str, str]] = []
    if message_type not in MESSAGE_TYPES:
        errors.append(
            {"path": "message_type", "message": f"expected one of {', '.join(MESSAGE_TYPES)}"}
        )
    else:
        _check_content(message_type, content, errors)
    _check_variables(variables, errors)
    if message_type != "template" and isinstance(variables, dict) and variables:
        errors.append(
            {
                "path": "template_variables",
                "message": "only template messages map variables; use fallbacks for {fields}",
            }
        )
    if errors:
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        raise InvalidInput(f"The message is not valid: {summary}", errors)


# --- ready to send -----------------------------------------------------------------------


def problems(
    message_type: str,
    content: dict[str, Any],
    template: WhatsAppTemplate | None,
    variables: dict[str, Any],
) -> list[str]:
    """Everything missing or wrong in the message itself, in an owner's words."""
    if message_type == "text":
        body = content.get("body")
        return [] if _is_text(body) and body.strip() else ["The message text is empty."]
    if message_type in MEDIA_KINDS:
        if content.get("link") is None and content.get("media_id") is None:
            return [f"The {message_type} has no media: give an https:// link or upload a file."]
        return []
    return _template_problems(template, variables)


def _template_problems(template: WhatsAppTemplate | None, variables: dict[str, Any]) -> list[str]:
    if template is None:
        return ["No WhatsApp template is chosen."]
    label = f"Template '{template.name}' ({template.language})"
    if template.removed_at is not None:
        return [f"{label} no longer exists on WhatsApp; choose another or sync templates."]
    if template.status != "APPROVED":
        return [f"{label} is {template.status}; only APPROVED templates can be sent."]
    found: list[str] = []
    expected = {v.key: v for v in extract_variables(template.components)}
    for key in expected:
        if key not in variables:
            found.append(f"{label}: variable {key} has no value mapped.")
    for key in variables:
        if key not in expected:
            found.append(f"{label} has no variable {key}; remove its mapping.")
    chosen = mappings(variables)
    for key, variable in expected.items():
        mapping = chosen.get(key)
        if mapping is not None and variable.kind != "text" and mapping.source != "fixed":
            found.append(f"{label}: the {variable.kind} header needs a fixed link or media id.")
    if found:
        return found
    # Render once with the fixed values and stand-ins for fields: catches bad fixed values.
    values = sample_values(template.components)
    values.update({k: m.value for k, m in chosen.items() if m.source == "fixed"})
    try:
        render(template.components, values)
    except InvalidInput as exc:
        found.extend(f"{label}: {e['path']}: {e['message']}" for e in exc.errors)
    return found
