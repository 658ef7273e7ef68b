"""WhatsApp message templates: their variables, previews, and the send-time parameters.

A template's components come from Meta (``HEADER``, ``BODY``, ``FOOTER``, ``BUTTONS``).
Variables are positional (``{{1}}``) or named (``{{first_name}}``) per ``parameter_format``.
Rendering fills them with values and refuses what Meta would refuse, saying precisely why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from core.errors import InvalidInput

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
HEADER_TEXT_LIMIT = 60
BODY_TEXT_LIMIT = 1024
BUTTON_URL_PARAMETER_LIMIT = 2000
MEDIA_FORMATS = ("IMAGE", "DOCUMENT", "VIDEO")


@dataclass(frozen=True)
class TemplateVariable:
    """One value a template needs: where it goes, its name, and Meta's example."""

    component: str  # "header", "body" or "button"
    name: str  # "1", "2" ... or "first_name"
    example: str | None = None
    button_index: int | None = None
    kind: str = "text"  # "text", or "image"/"document"/"video" for a media header

    @property
    def key(self) -> str:
        """The name a campaign maps a value to: ``body.1``, ``header.media``, ``button.0.1``."""
        if self.component == "button":
            return f"button.{self.button_index}.{self.name}"
        return f"{self.component}.{self.name}"


@dataclass
class RenderedTemplate:
    header: str | None = None
    header_media: dict[str, str] | None = None
    body: str = ""
    footer: str | None = None
    buttons: list[dict[str, str]] = field(default_factory=list)

    def as_text(self) -> str:
        parts = [p for p in (self.header, self.body, self.footer) if p]
        return "\n\n".join(parts)


def _component(components: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    for component in components:
        if str(component.get("type", "")).upper() == kind:
            return component
    return None


def _placeholders(text: str | None) -> list[str]:
    seen: list[str] = []
    for name in PLACEHOLDER.findall(text or ""):
        if name not in seen:
            seen.append(name)
    return seen


def _examples(component: dict[str, Any], kind: str) -> dict[str, str]:
    """Meta's example values by placeholder name, positional or named."""
    example = component.get("example") or {}
    named = example.get(f"{kind}_text_named_params") or []
    if named:
        return {str(p.get("param_name")): str(p.get("example", "")) for p in named}
    values = example.get(f"{kind}_text") or []
    if values and isinstance(values[0], list):
        values = values[0]
    return {str(i + 1): str(v) for i, v in enumerate(values)}


def _url_suffix_example(button: dict[str, Any]) -> str | None:
    """The example value of a URL button's variable.

    Meta's example is the whole URL (``https://shop.id/p/a1`` for ``https://shop.id/p/{{1}}``);
    the value sent is only the part the placeholder stands for (``a1``).
    """
    example = (button.get("example") or [None])[0]
    if example is None:
        return None
    example = str(example)
    prefix, _, rest = str(button.get("url", "")).partition("{{")
    suffix = rest.partition("}}")[2]
    if prefix and example.startswith(prefix) and example.endswith(suffix):
        return example[len(prefix) : len(example) - len(suffix)] or example
    return example


def extract_variables(components: list[dict[str, Any]]) -> list[TemplateVariable]:
    """Every value a template needs at send time, in Meta's order."""
    variables: list[TemplateVariable] = []
    header = _component(components, "HEADER")
    if header:
        fmt = str(header.get("format", "TEXT")).upper()
        if fmt in MEDIA_FORMATS:
            handle = (header.get("example") or {}).get("header_handle") or [None]
            variables.append(TemplateVariable("header", "media", handle[0], kind=fmt.lower()))
        else:
            examples = _examples(header, "header")
            for name in _placeholders(header.get("text")):
                variables.append(TemplateVariable("header", name, examples.get(name)))
    body = _component(components, "BODY")
    if body:
        examples = _examples(body, "body")
        for name in _placeholders(body.get("text")):
            variables.append(TemplateVariable("body", name, examples.get(name)))
    buttons = _component(components, "BUTTONS")
    for index, button in enumerate((buttons or {}).get("buttons", [])):
        if str(button.get("type", "")).upper() == "URL":
            example = _url_suffix_example(button)
            for name in _placeholders(button.get("url")):
                variables.append(TemplateVariable("button", name, example, button_index=index))
    return variables


def sample_values(components: list[dict[str, Any]]) -> dict[str, str]:
    """Meta's example values (or a readable stand-in) for every variable."""
    return {v.key: v.example or f"<{v.name}>" for v in extract_variables(components)}


def _check_text_value(key: str, value: str, in_header: bool) -> str | None:
    if not value.strip():
        return f"{key}: empty value"
    if in_header and ("\n" in value or "\r" in value):
        return f"{key}: header values cannot contain new lines"
    if not in_header and ("\n" in value or "\t" in value or "     " in value):
        return f"{key}: values cannot contain new lines, tabs or more than 4 consecutive spaces"
    return None


def _fill(text: str, component: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(f"{component}.{m.group(1)}", m.group(0)), text)


def render(components: list[dict[str, Any]], values: dict[str, str]) -> RenderedTemplate:
    """Fill a template's variables; InvalidInput lists every missing, extra or bad value."""
    variables = extract_variables(components)
    expected = {v.key: v for v in variables}
    errors: list[dict[str, str]] = []
    for key in sorted(set(values) - set(expected)):
        errors.append({"path": key, "message": "this template has no such variable"})
    for key, variable in expected.items():
        value = values.get(key)
        if value is None or value == "":
            errors.append({"path": key, "message": "missing value"})
            continue
        if variable.kind == "text":
            problem = _check_text_value(key, str(value), variable.component == "header")
            if problem:
                errors.append({"path": key, "message": problem.split(": ", 1)[1]})
        elif not str(value).startswith(("http://", "https://")) and not str(value).isdigit():
            errors.append({"path": key, "message": "expected a media link (https://...) or id"})
    rendered = RenderedTemplate()
    header = _component(components, "HEADER")
    if header:
        fmt = str(header.get("format", "TEXT")).upper()
        if fmt in MEDIA_FORMATS:
            rendered.header_media = {"type": fmt.lower(), "value": values.get("header.media", "")}
        else:
            rendered.header = _fill(header.get("text", ""), "header", values)
            if len(rendered.header) > HEADER_TEXT_LIMIT:
                errors.append(
                    {
                        "path": "header",
                        "message": f"rendered header is {len(rendered.header)} characters; "
                        f"the limit is {HEADER_TEXT_LIMIT}",
                    }
                )
    body = _component(components, "BODY")
    if body:
        rendered.body = _fill(body.get("text", ""), "body", values)
        if len(rendered.body) > BODY_TEXT_LIMIT:
            errors.append(
                {
                    "path": "body",
                    "message": f"rendered body is {len(rendered.body)} characters; "
                    f"the limit is {BODY_TEXT_LIMIT}",
                }
            )
    footer = _component(components, "FOOTER")
    if footer:
        rendered.footer = footer.get("text")
    buttons = _component(components, "BUTTONS")
    for index, button in enumerate((buttons or {}).get("buttons", [])):
        entry = {"type": str(button.get("type", "")).lower(), "text": button.get("text", "")}
        if button.get("url"):
            entry["url"] = PLACEHOLDER.sub(
                lambda m, i=index: values.get(f"button.{i}.{m.group(1)}", m.group(0)),
                button["url"],
            )
        rendered.buttons.append(entry)
    if errors:
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        raise InvalidInput(f"Template values rejected: {summary}", errors)
    return rendered


def send_components(
    components: list[dict[str, Any]], values: dict[str, str], parameter_format: str
) -> list[dict[str, Any]]:
    """The ``template.components`` of a Cloud API send request for these values."""
    render(components, values)  # validate first: never send what Meta would refuse
    named = parameter_format.upper() == "NAMED"
    by_component: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
    for variable in extract_variables(components):
        value = values[variable.key]
        if variable.kind != "text":
            media_key = "link" if str(value).startswith(("http://", "https://")) else "id"
            parameter: dict[str, Any] = {"type": variable.kind, variable.kind: {media_key: value}}
        else:
            parameter = {"type": "text", "text": str(value)}
            if named and variable.component != "button":
                parameter["parameter_name"] = variable.name
        by_component.setdefault((variable.component, variable.button_index), []).append(parameter)
    result: list[dict[str, Any]] = []
    for (component, index), parameters in by_component.items():
        if component == "button":
            result.append(
                {"type": "button", "sub_type": "url", "index": str(index), "parameters": parameters}
            )
        else:
            result.append({"type": component, "parameters": parameters})
    return result
