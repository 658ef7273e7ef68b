"""Custom fields of contacts: which names exist and what type their values have.

Custom fields are free-form per contact (imported columns, CRM metadata), so a segment
builder has to discover them. ``discover_custom_fields`` reads the fields of the most
recently updated contacts (``SAMPLE`` of them: the newest data says best what fields are
in use, and the cost stays flat at millions of contacts) and types each field the way
segment criteria compare values (``core.segments.criteria``): JSON true/false are booleans,
JSON numbers numbers, strings starting with a ``YYYY-MM-DD`` date (ISO dates and date-times)
dates, other strings text.
A field's type is the one most of its values have; the others are counted too, because a
number condition never matches a number stored as text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.permissions import Actor, Permission, require
from core.segments.criteria import parse_iso_date
from sql.schema import Contact

SAMPLE = 10_000
#: Text fields with at most this many distinct values list them (choices for "is one of").
MAX_CHOICES = 20
TYPES = ("text", "number", "date", "boolean")


@dataclass(frozen=True)
class CustomField:
    name: str
    type: str  # text, number, date or boolean: what most of its values are
    contacts: int  # contacts of the sample with a value set (not null, not "")
    types: dict[str, int]  # values per type; "other" for lists and objects
    choices: tuple[Any, ...]  # the distinct values, most common first (few-valued text only)


@dataclass(frozen=True)
class FieldDiscovery:
    fields: list[CustomField]
    sampled: int  # contacts read
    sample_limit: int  # at most this many (the most recently updated)


def value_type(value: object) -> str | None:
    """The criteria type of one stored value; None when it is not set."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        # As the compiler reads them: a text starting with a YYYY-MM-DD date compares as one.
        return "date" if parse_iso_date(value[:10]) is not None else "text"
    return "other"


def discover_custom_fields(
    session: Session, actor: Actor, *, sample: int = SAMPLE
) -> FieldDiscovery:
    """Every custom field found on the most recently updated contacts, by name."""
    require(actor, Permission.CONTACT_READ)
    rows = session.scalars(
        select(Contact.custom_fields)
        .order_by(Contact.updated_at.desc(), Contact.id.desc())
        .limit(sample)
    ).all()
    kinds: dict[str, Counter[str]] = {}
    values: dict[str, Counter[Any]] = {}
    for fields in rows:
        if not isinstance(fields, dict):
            continue
        for name, value in fields.items():
            kind = value_type(value)
            counted = kinds.setdefault(str(name), Counter())
            if kind is None:
                continue
            counted[kind] += 1
            if kind in ("text", "boolean"):
                values.setdefault(str(name), Counter())[value] += 1
    found = [_field(name, kinds[name], values.get(name)) for name in kinds]
    return FieldDiscovery(sorted(found, key=lambda f: (f.name.lower(), f.name)), len(rows), sample)


def _field(name: str, kinds: Counter[str], values: Counter[Any] | None) -> CustomField:
    typed = [(count, kind) for kind, count in kinds.items() if kind in TYPES]
    # Most values decide; a tie goes to the type listed first (text is the safe reading).
    kind = min(typed, key=lambda item: (-item[0], TYPES.index(item[1])))[1] if typed else "text"
    choices: tuple[Any, ...] = ()
    if values and kind in ("text", "boolean") and len(values) <= MAX_CHOICES:
        ranked = sorted(values.items(), key=lambda item: (-item[1], str(item[0])))
        choices = tuple(value for value, _ in ranked if value_type(value) == kind)
    return CustomField(
        name=name,
        type=kind,
        contacts=sum(kinds.values()),
        types=dict(sorted(kinds.items())),
        choices=choices,
    )
