"""Message templates: the model, parsing of Meta's component JSON, and the WABA's template store.

A template keeps its components exactly as Meta serves them (``HEADER``/``BODY``/``FOOTER``/
``BUTTONS``) and, parsed once on creation, what a send must supply: header parameter kind,
placeholder names of header and body, and which buttons take a parameter. The store keeps
templates ordered by id and pages through them with opaque cursors, as Graph does.
"""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
STATUSES = ("APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "ARCHIVED")
HEADER_FORMATS = ("TEXT", "IMAGE", "DOCUMENT", "VIDEO", "LOCATION")
BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP")
TEMPLATE_FIELDS = (
    "id",
    "name",
    "status",
    "category",
    "language",
    "components",
    "parameter_format",
    "rejected_reason",
    "quality_score",
    "sub_category",
)
DEFAULT_FIELDS = ("name", "parameter_format", "components", "language", "status", "category")
FIRST_TEMPLATE_ID = 1_100_000_000_000_000

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_NAME = re.compile(r"[a-z0-9_]{1,512}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2,4})?")
_NAMED_PARAMETER = re.compile(r"[a-z][a-z0-9_]*")


class TemplateInvalid(ValueError):
    """A template definition Meta would refuse to create; the message says why."""


@dataclass(slots=True)
class ButtonSpec:
    index: int
    type: str
    text: str
    takes_parameter: bool  # URL with {{1}}, or an OTP/COPY_CODE code


@dataclass(slots=True)
class Template:
    id: str
    name: str
    language: str
    category: str
    status: str
    components: list[dict[str, Any]]
    parameter_format: str = "POSITIONAL"
    rejected_reason: str = "NONE"
    sub_category: str | None = None
    header_format: str | None = None
    header_vars: list[str] = field(default_factory=list)
    body_text: str = ""
    body_vars: list[str] = field(default_factory=list)
    buttons: list[ButtonSpec] = field(default_factory=list)

    @property
    def named(self) -> bool:
        return self.parameter_format == "NAMED"

    def to_graph(self, fields: Iterable[str] = DEFAULT_FIELDS) -> dict[str, Any]:
        """The template as ``message_templates`` returns it; ``id`` is always present."""
        values: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "category": self.category,
            "language": self.language,
            "components": self.components,
            "parameter_format": self.parameter_format,
            "rejected_reason": self.rejected_reason,
            "quality_score": {"score": "GREEN" if self.status == "APPROVED" else "UNKNOWN"},
            "sub_category": self.sub_category,
        }
        shown = {name: values[name] for name in fields if name != "id" and values[name] is not None}
        shown["id"] = self.id
        return shown


def parse_template(template_id: str, definition: dict[str, Any]) -> Template:
    """Validate a template definition (Meta's creation payload plus ``status``) and parse it."""
    if not isinstance(definition, dict):
        raise TemplateInvalid("a template must be a JSON object")
    name = definition.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TemplateInvalid("name must be 1–512 lowercase letters, digits or underscores")
    language = definition.get("language")
    if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
        raise TemplateInvalid(f"language {language!r} is not a code such as id, en or en_US")
    category = str(definition.get("category", "")).upper()
    if category not in CATEGORIES:
        raise TemplateInvalid(f"category must be one of {', '.join(CATEGORIES)}")
    status = str(definition.get("status", "APPROVED")).upper()
    if status not in STATUSES:
        raise TemplateInvalid(f"status must be one of {', '.join(STATUSES)}")
    components = definition.get("components")
    if not isinstance(components, list) or not components:
        raise TemplateInvalid("components must be a non-empty list")
    template = Template(
        id=template_id,
        name=name,
        language=language,
        category=category,
        status=status,
        components=components,
        rejected_reason=str(definition.get("rejected_reason", "NONE")),
        sub_category=definition.get("sub_category"),
    )
    _parse_components(template, components, definition.get("parameter_format"))
    return template


def _parse_components(template: Template, components: list[Any], declared_format: Any) -> None:
    seen: set[str] = set()
    placeholders: list[str] = []
    for component in components:
        if not isinstance(component, dict):
            raise TemplateInvalid("every component must be an object")
        kind = str(component.get("type", "")).upper()
        if kind not in ("HEADER", "BODY", "FOOTER", "BUTTONS"):
            raise TemplateInvalid(f"unknown component type {component.get('type')!r}")
        if kind in seen:
            raise TemplateInvalid(f"a template has at most one {kind} component")
        seen.add(kind)
        if kind == "HEADER":
            template.header_format = _header_format(component)
            if template.header_format == "TEXT":
                template.header_vars = _placeholders(component, "HEADER", 60)
                if len(template.header_vars) > 1:
                    raise TemplateInvalid("a text header has at most one variable")
                placeholders += template.header_vars
        elif kind == "BODY":
            template.body_text = _text(component, "BODY", 1024)
            template.body_vars = _placeholders(component, "BODY", 1024)
            placeholders += template.body_vars
        elif kind == "FOOTER":
            if _placeholders(component, "FOOTER", 60):
                raise TemplateInvalid("a footer cannot have variables")
        else:
            template.buttons = _buttons(component)
    if "BODY" not in seen:
        raise TemplateInvalid("a template needs a BODY component")
    named = any(not name.isdigit() for name in placeholders)
    if named and any(name.isdigit() for name in placeholders):
        raise TemplateInvalid("a template uses either {{1}} or {{name}} placeholders, not both")
    fmt = str(declared_format or ("NAMED" if named else "POSITIONAL")).upper()
    if fmt not in ("POSITIONAL", "NAMED"):
        raise TemplateInvalid("parameter_format must be POSITIONAL or NAMED")
    if fmt == "NAMED" and placeholders and not named:
        raise TemplateInvalid("parameter_format NAMED needs {{name}} placeholders")
    if fmt == "POSITIONAL" and named:
        raise TemplateInvalid("parameter_format POSITIONAL needs {{1}}, {{2}}… placeholders")
    template.parameter_format = fmt
    for where, names in (("HEADER", template.header_vars), ("BODY", template.body_vars)):
        if fmt == "POSITIONAL" and names != [str(n) for n in range(1, len(names) + 1)]:
            raise TemplateInvalid(f"{where} placeholders must be {{{{1}}}}, {{{{2}}}}… in order")
        if fmt == "NAMED" and any(not _NAMED_PARAMETER.fullmatch(n) for n in names):
            raise TemplateInvalid(f"{where} placeholder names must be lowercase snake_case")


def _header_format(component: dict[str, Any]) -> str:
    fmt = str(component.get("format", "")).upper()
    if fmt not in HEADER_FORMATS:
        raise TemplateInvalid(f"HEADER format must be one of {', '.join(HEADER_FORMATS)}")
    return fmt


def _text(component: dict[str, Any], where: str, limit: int) -> str:
    text = component.get("text")
    if not isinstance(text, str) or not text.strip():
        raise TemplateInvalid(f"{where} needs text")
    if len(text) > limit:
        raise TemplateInvalid(f"{where} text is {len(text)} characters; the limit is {limit}")
    return text


def _placeholders(component: dict[str, Any], where: str, limit: int) -> list[str]:
    """Distinct placeholder names in order of first appearance."""
    names: list[str] = []
    for name in _PLACEHOLDER.findall(_text(component, where, limit)):
        if name not in names:
            names.append(name)
    return names


def _buttons(component: dict[str, Any]) -> list[ButtonSpec]:
    buttons = component.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 10:
        raise TemplateInvalid("BUTTONS needs 1 to 10 buttons")
    specs = []
    for index, button in enumerate(buttons):
        if not isinstance(button, dict):
            raise TemplateInvalid("every button must be an object")
        kind = str(button.get("type", "")).upper()
        if kind not in BUTTON_TYPES:
            raise TemplateInvalid(f"button type must be one of {', '.join(BUTTON_TYPES)}")
        text = button.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 25:
            raise TemplateInvalid(f"button {index} needs a text of 1–25 characters")
        takes_parameter = kind in ("OTP", "COPY_CODE")
        if kind == "URL":
            url = button.get("url")
            if not isinstance(url, str) or not re.match(r"https?://", url):
                raise TemplateInvalid(f"URL button {index} needs an http(s) url")
            variables = _PLACEHOLDER.findall(url)
            if variables not in ([], ["1"]) or (variables and not url.rstrip().endswith("}}")):
                raise TemplateInvalid(f"URL button {index} may only end with one {{{{1}}}}")
            takes_parameter = bool(variables)
        specs.append(ButtonSpec(index, kind, text, takes_parameter))
    return specs


def encode_cursor(template_id: int) -> str:
    return base64.b64encode(f"tpl:{template_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    """The template id a cursor points at, or None if it is not one of ours."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not raw.startswith("tpl:") or not raw[4:].isdigit():
        return None
    return int(raw[4:])


@dataclass(slots=True)
class Page:
    templates: list[Template]
    has_before: bool
    has_after: bool


class TemplateStore:
    """The WABA's templates, unique by (name, language), ordered by id."""

    def __init__(self) -> None:
        self._by_id: dict[int, Template] = {}
        self._by_key: dict[tuple[str, str], Template] = {}
        self._names: dict[str, int] = {}  # name -> number of languages
        self._order: list[int] = []
        self._next_id = FIRST_TEMPLATE_ID

    def __len__(self) -> int:
        return len(self._order)

    def next_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def add(self, template: Template) -> Template:
        key = (template.name, template.language)
        if key in self._by_key:
            raise TemplateInvalid(
                f"a template named {template.name!r} in {template.language!r} already exists"
            )
        number = int(template.id)
        self._by_id[number] = template
        self._by_key[key] = template
        self._names[template.name] = self._names.get(template.name, 0) + 1
        if not self._order or number > self._order[-1]:
            self._order.append(number)
        else:
            self._order.insert(bisect_left(self._order, number), number)
        return template

    def remove(self, template_id: str) -> Template | None:
        template = self.by_id(template_id)
        if template is None:
            return None
        number = int(template_id)
        del self._by_id[number]
        del self._by_key[(template.name, template.language)]
        self._names[template.name] -= 1
        if not self._names[template.name]:
            del self._names[template.name]
        self._order.pop(bisect_left(self._order, number))
        return template

    def by_id(self, template_id: str) -> Template | None:
        return self._by_id.get(int(template_id)) if template_id.isdigit() else None

    def lookup(self, name: str, language: str) -> Template | None:
        return self._by_key.get((name, language))

    def has_name(self, name: str) -> bool:
        return name in self._names

    def all(self) -> list[Template]:
        return [self._by_id[number] for number in self._order]

    def page(
        self,
        *,
        limit: int,
        after: int | None = None,
        before: int | None = None,
        keep: Callable[[Template], bool] | None = None,
    ) -> Page:
        """One page of templates after (or before) a cursor position, optionally filtered."""
        order = self._order
        if keep is not None:
            order = [number for number in order if keep(self._by_id[number])]
        if before is not None:
            end = bisect_left(order, before)
            start = max(0, end - limit)
        else:
            start = bisect_right(order, after) if after is not None else 0
            end = min(len(order), start + limit)
        chosen = order[start:end]
        return Page(
            templates=[self._by_id[number] for number in chosen],
            has_before=start > 0,
            has_after=end < len(order),
        )
