"""Personalization: one campaign's message rendered for one contact, exactly as sent.

A ``Personalizer`` is built once per campaign (message, template, variable mapping) and
renders any number of contacts: ``payload()`` gives the Cloud API request body the outbox
stores in ``campaign_messages.rendered_content``. Values come from the contact's ``name``,
``phone`` or a custom field, else the variable's fallback; a variable with neither is
missing, and ``missing_report`` says for how many recipients before anything is sent.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.campaigns.content import (
    PLACEHOLDER,
    mappings,
    personal_text,
    placeholders,
)
from core.errors import InvalidInput
from core.templates import (
    BODY_TEXT_LIMIT,
    HEADER_TEXT_LIMIT,
    extract_variables,
    render,
    send_components,
)
from core.templates import PLACEHOLDER as TEMPLATE_PLACEHOLDER
from sender import payloads
from sql.schema import Campaign, WhatsAppTemplate


@dataclass(frozen=True)
class Recipient:
    """The contact data a message may use."""

    contact_id: uuid.UUID | None
    name: str | None
    phone: str
    custom_fields: Mapping[str, Any] = field(default_factory=dict)


#: Stand-in shown in previews when no contact is at hand.
SAMPLE_RECIPIENT = Recipient(None, "Budi Santoso", "+6281234567890", {})


def as_text(value: Any) -> str | None:
    """A contact value as message text; None when there is nothing to show."""
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, list):
        parts = [p for p in (as_text(v) for v in value) if p]
        return ", ".join(parts) or None
    text = str(value).strip()
    return text or None


def field_value(recipient: Recipient, name: str) -> str | None:
    """``name``, ``phone`` or a custom field of the recipient."""
    if name == "name":
        return as_text(recipient.name)
    if name == "phone":
        return as_text(recipient.phone)
    return as_text(recipient.custom_fields.get(name))


@dataclass(frozen=True)
class Slot:
    """One value the message needs per recipient."""

    key: str  # "city" for text, "body.1" for templates
    label: str  # how an owner names it: "{city}", "body.1 ({city})"
    source: str  # "field" or "fixed"
    value: str  # the field name, or the fixed text
    fallback: str | None


class MissingValues(InvalidInput):
    """The recipient has no value, and the message no fallback, for these slots."""

    def __init__(self, slots: list[Slot]) -> None:
        labels = ", ".join(s.label for s in slots)
        super().__init__(f"No value and no fallback for {labels}.")
        self.slots = slots


@dataclass(frozen=True)
class MissingVariable:
    """How many recipients lack one variable (with no fallback to cover them)."""

    label: str
    missing: int
    total: int

    def __str__(self) -> str:
        return (
            f"{self.label}: {self.missing:,} of {self.total:,} recipients have no value "
            "and no fallback"
        )


def _clean(value: str) -> str:
    # Meta refuses new lines, tabs and runs of spaces in template values (132012).
    return " ".join(value.split())


class CompiledTemplate:
    """A template's send-time components built once, then filled per recipient.

    ``core.templates.send_components`` validates and rebuilds everything on each call; a
    launch renders 100,000 recipients, so the structure is built once here with marker
    values and only the text parameters change. Per-recipient values are cleaned (no new
    lines, tabs or runs of spaces) so the only check left per recipient is the rendered
    length of the header and body, against the same limits.
    """

    def __init__(self, template: WhatsAppTemplate, fixed: Mapping[str, str]) -> None:
        self.template = template
        variables = extract_variables(template.components)
        for variable in variables:
            if variable.kind != "text" and variable.key not in fixed:
                raise InvalidInput(
                    f"Template values rejected: {variable.key}: the {variable.kind} header "
                    "needs a fixed link or media id"
                )
        self.keys = [v.key for v in variables]
        # Text values are filled per recipient; markers find where each one goes.
        markers = {v.key: fixed.get(v.key) or f"\u2063{i}\u2063" for i, v in enumerate(variables)}
        self.skeleton = send_components(template.components, markers, template.parameter_format)
        by_marker = {marker: key for key, marker in markers.items()}
        self.slots: list[list[str | None]] = [
            [by_marker.get(p.get("text", "")) if p.get("type") == "text" else None
             for p in component["parameters"]]
            for component in self.skeleton
        ]  # fmt: skip
        self.lengths = [
            self._length_rule(template.components, "HEADER", "header", HEADER_TEXT_LIMIT),
            self._length_rule(template.components, "BODY", "body", BODY_TEXT_LIMIT),
        ]

    @staticmethod
    def _length_rule(
        components: list[dict[str, Any]], kind: str, name: str, limit: int
    ) -> tuple[str, int, list[str], int] | None:
        for component in components:
            if str(component.get("type", "")).upper() == kind and component.get("text"):
                text = component["text"]
                keys = [f"{name}.{m}" for m in TEMPLATE_PLACEHOLDER.findall(text)]
                fixed_part = len(TEMPLATE_PLACEHOLDER.sub("", text))
                return name, fixed_part, keys, limit
        return None

    def components(self, values: Mapping[str, str]) -> list[dict[str, Any]]:
        """The ``template.components`` for these (cleaned) values, or InvalidInput."""
        missing = [key for key in self.keys if key not in values]
        if missing:
            raise InvalidInput(
                "Template values rejected: " + "; ".join(f"{key}: missing value" for key in missing)
            )
        for rule in self.lengths:
            if rule is None:
                continue
            name, fixed_part, keys, limit = rule
            length = fixed_part + sum(len(values[key]) for key in keys)
            if length > limit:
                raise InvalidInput(
                    f"Template values rejected: {name}: rendered {name} is {length} characters; "
                    f"the limit is {limit}"
                )
        built = []
        for component, keys in zip(self.skeleton, self.slots, strict=True):
            parameters = [
                p if key is None else {**p, "text": values[key]}
                for p, key in zip(component["parameters"], keys, strict=True)
            ]
            built.append({**component, "parameters": parameters})
        return built


class Personalizer:
    """Renders one campaign's message for any recipient."""

    def __init__(
        self,
        message_type: str,
        content: Mapping[str, Any],
        template: WhatsAppTemplate | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        self.message_type = message_type
        self.content = dict(content)
        self.template = template
        self.slots = self._slots(dict(variables or {}))
        self._compiled: CompiledTemplate | None = None

    @classmethod
    def for_campaign(cls, campaign: Campaign, template: WhatsAppTemplate | None) -> Personalizer:
        return cls(
            campaign.message_type, campaign.message_content, template, campaign.template_variables
        )

    def _slots(self, variables: dict[str, Any]) -> list[Slot]:
        if self.message_type == "template":
            if self.template is None:
                return []
            chosen = mappings(variables)
            slots = []
            for variable in extract_variables(self.template.components):
                mapping = chosen.get(variable.key)
                if mapping is None:
                    continue
                label = variable.key
                if mapping.source == "field":
                    label = f"{variable.key} ({{{mapping.value}}})"
                slots.append(
                    Slot(variable.key, label, mapping.source, mapping.value, mapping.fallback)
                )
            return slots
        fallbacks = self.content.get("fallbacks") or {}
        text = personal_text(self.message_type, self.content)
        return [
            Slot(name, "{" + name + "}", "field", name, fallbacks.get(name))
            for name in placeholders(text)
        ]

    # --- values ----------------------------------------------------------------------------

    def values(self, recipient: Recipient) -> tuple[dict[str, str], list[Slot]]:
        """Each slot's value for ``recipient``, and the slots left without one."""
        values: dict[str, str] = {}
        missing: list[Slot] = []
        for slot in self.slots:
            if slot.source == "fixed":
                values[slot.key] = slot.value
                continue
            value = field_value(recipient, slot.value)
            if value is None:
                value = slot.fallback
            if value is None:
                missing.append(slot)
            else:
                values[slot.key] = value
        return values, missing

    def missing(self, recipient: Recipient) -> list[Slot]:
        return self.values(recipient)[1]

    def _fill(self, text: str, values: dict[str, str], keep_missing: bool = False) -> str:
        def one(match: Any) -> str:
            name = match.group(1) or match.group(2)
            if name in values:
                return values[name]
            return match.group(0) if keep_missing else ""

        return PLACEHOLDER.sub(one, text)

    # --- output ---------------------------------------------------------------------------

    def payload(self, recipient: Recipient, *, callback: str | None = None) -> dict[str, Any]:
        """The exact Cloud API request body for ``recipient``.

        Raises MissingValues when a value is missing, InvalidInput when the rendered message
        breaks a WhatsApp limit (e.g. a text over 4,096 characters).
        """
        values, missing = self.values(recipient)
        if missing:
            raise MissingValues(missing)
        to = recipient.phone
        kind = self.message_type
        if kind == "text":
            body = self._fill(self.content.get("body") or "", values)
            preview = bool(self.content.get("preview_url", False))
            return payloads.text_message(to, body, preview_url=preview, callback=callback)
        if kind in payloads.MEDIA_KINDS:
            caption = self.content.get("caption")
            return payloads.media_message(
                to,
                kind,  # type: ignore[arg-type]
                link=self.content.get("link"),
                media_id=self.content.get("media_id"),
                caption=self._fill(caption, values) if caption else None,
                filename=self.content.get("filename"),
                callback=callback,
            )
        template = self._require_template()
        cleaned = {k: (_clean(v) if k != "header.media" else v) for k, v in values.items()}
        if self._compiled is None:
            fixed = {
                s.key: s.value if s.key == "header.media" else _clean(s.value)
                for s in self.slots
                if s.source == "fixed"
            }
            self._compiled = CompiledTemplate(template, fixed)
        components = self._compiled.components(cleaned)
        return payloads.template_message(
            to, template.name, template.language, components=components, callback=callback
        )

    def text(self, recipient: Recipient) -> str:
        """What the recipient reads; a missing value stays visible as its ``{placeholder}``."""
        values, missing = self.values(recipient)
        if self.message_type == "template":
            template = self._require_template()
            shown = {k: _clean(v) if k != "header.media" else v for k, v in values.items()}
            for slot in missing:
                shown[slot.key] = "{" + slot.value + "}"
            for variable in extract_variables(template.components):
                shown.setdefault(variable.key, f"<{variable.key}>")
            return render(template.components, shown).as_text()
        text = personal_text(self.message_type, self.content) or ""
        return self._fill(text, values, keep_missing=True)

    def _require_template(self) -> WhatsAppTemplate:
        if self.template is None:
            raise InvalidInput("No WhatsApp template is chosen.")
        return self.template


def missing_report(
    personalizer: Personalizer, recipients: Iterable[Recipient]
) -> list[MissingVariable]:
    """Per variable without a fallback: how many of ``recipients`` have no value for it."""
    counts: Counter[str] = Counter()
    total = 0
    for recipient in recipients:
        total += 1
        for slot in personalizer.missing(recipient):
            counts[slot.label] += 1
    return [
        MissingVariable(slot.label, counts[slot.label], total)
        for slot in personalizer.slots
        if counts[slot.label]
    ]
