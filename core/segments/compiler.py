"""Criteria -> SQLAlchemy Core: a WHERE clause over ``contact_features`` rows.

Everything but two kinds of test reads the one ``contact_features`` row of a contact (as
fresh as its ``computed_at``): conversation aggregates, labels as bits of ``label_bits``
(given ``label_masks``) and the copy of the custom fields. Labels without a bit and
conversation counts within a time window are read live from their tables. Under a
``not`` every test is made two-valued, so negation never loses contacts to SQL's NULL
logic. Inside a group the cheap tests come first: SQLite evaluates terms in order and
subqueries late, PostgreSQL orders by cost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)

from core.segments.criteria import (
    AllGroup,
    AnyGroup,
    Condition,
    ConversationCountCondition,
    CustomFieldCondition,
    Group,
    LabelsCondition,
    LastInteractionBefore,
    LastInteractionBetween,
    LastInteractionNever,
    LastInteractionWithin,
    NoRatingCondition,
    NotGroup,
    RatingCondition,
    StatusCondition,
    parse_criteria,
    parse_iso_date,
)
from core.segments.sqlfuncs import (
    ascii_lower,
    json_is_false,
    json_is_number,
    json_is_present,
    json_is_string,
    json_is_true,
    json_may_contain,
    json_number,
    json_text,
    looks_like_date,
    text_contains,
)
from sql.schema import (
    CONVERSATION_STATUSES,
    Contact,
    ContactFeature,
    ContactLabel,
    Conversation,
    Label,
    LabelBit,
)

FEATURES = ContactFeature.__table__
CONTACTS = Contact.__table__
CONTACT_LABELS = ContactLabel.__table__
LABELS = Label.__table__
LABEL_BITS = LabelBit.__table__
CONVERSATIONS = Conversation.__table__

#: Bit of each workflow status in ``contact_features.statuses_seen``.
STATUS_BITS = {status: 1 << i for i, status in enumerate(CONVERSATION_STATUSES)}

_COMPARE = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def compile_criteria(
    criteria: Group | dict[str, Any],
    now: datetime,
    label_masks: Mapping[str, int] | None = None,
) -> ColumnElement[bool]:
    """A WHERE clause over ``contact_features`` rows selecting the contacts ``criteria`` match.

    ``now`` anchors relative conditions; ``label_masks`` (``features.label_masks``) maps a
    label name to its bit in ``label_bits``: labels missing from it are checked live.
    Meant for WHERE (or HAVING): outside ``not`` it may be NULL where it means false.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return _Compiler(now, label_masks or {}).node(parse_criteria(criteria))


def matching_contacts(
    criteria: Group | dict[str, Any],
    now: datetime,
    label_masks: Mapping[str, int] | None = None,
) -> Select[Any]:
    """``SELECT contact_id FROM contact_features WHERE <criteria>``."""
    return select(FEATURES.c.contact_id).where(compile_criteria(criteria, now, label_masks))


# Evaluation cost classes: inside a group cheaper tests run first (SQLite evaluates AND
# terms in order and stops at the first false one; measured: integer tests first cut a
# 1M-row scan from 124 ms to 97 ms).
_INTEGER, _TEXT, _JSON, _LIVE_LABELS, _WINDOW = range(5)


class _Compiler:
    def __init__(self, now: datetime, label_masks: Mapping[str, int]) -> None:
        self.now = now
        self.masks = label_masks

    def node(self, node: Group | Condition, negated: bool = False) -> ColumnElement[bool]:
        """Compile ``node``; ``negated`` when a ``not`` group encloses it.

        Outside ``not`` a NULL test result excludes a row exactly as false does, so the
        IS NOT NULL guards that keep every test two-valued are only added under ``not``.
        """
        if isinstance(node, AllGroup | AnyGroup | NotGroup):
            return self.group(node, negated)
        if isinstance(node, LabelsCondition):
            return self.labels(node)
        return _condition(node, self.now, guarded=negated)

    def group(self, node: AllGroup | AnyGroup | NotGroup, negated: bool) -> ColumnElement[bool]:
        inner = negated or isinstance(node, NotGroup)
        children = sorted(node.conditions, key=self.cost)
        cheapest = min((self.cost(c) for c in children), default=0)
        parts = []
        for child in children:
            # A windowed count after cheaper AND-ed tests is counted per surviving row.
            per_row = isinstance(node, AllGroup) and self.cost(child) > cheapest
            if isinstance(child, ConversationCountCondition) and child.within_days:
                parts.append(_windowed_count(child, self.now, per_row=per_row))
            else:
                parts.append(self.node(child, inner))
        if isinstance(node, AllGroup):
            return and_(true(), *parts) if parts else true()
        either = or_(false(), *parts)
        return either if isinstance(node, AnyGroup) else not_(either)

    def cost(self, node: Group | Condition) -> int:
        if isinstance(node, AllGroup | AnyGroup | NotGroup):
            return max((self.cost(child) for child in node.conditions), default=_INTEGER)
        match node:
            case LabelsCondition():
                mapped = all(name in self.masks for name in node.labels)
                return _INTEGER if mapped else _LIVE_LABELS
            case StatusCondition(scope="latest") | LastInteractionBetween():
                return _TEXT
            case LastInteractionWithin() | LastInteractionBefore() | LastInteractionNever():
                return _TEXT
            case CustomFieldCondition():
                return _JSON
            case ConversationCountCondition(within_days=days) if days:
                return _WINDOW
        return _INTEGER

    def labels(self, node: LabelsCondition) -> ColumnElement[bool]:
        bits = FEATURES.c.label_bits
        mask = sum(self.masks[name] for name in node.labels if name in self.masks)
        live = [name for name in node.labels if name not in self.masks]
        if node.match == "all":
            tests = [bits.op("&")(mask) == mask] if mask else []
            return and_(true(), *tests, *(_labelled_live([name]) for name in live))
        tests = [bits.op("&")(mask) != 0] if mask else []
        if live:
            tests.append(_labelled_live(live))
        either = or_(false(), *tests)
        return either if node.match == "any" else not_(either)


def _condition(node: Condition, now: datetime, *, guarded: bool) -> ColumnElement[bool]:
    """A test of the contact's feature row; ``guarded`` makes it false (not NULL) on NULLs."""
    f = FEATURES.c

    def known(column: ColumnElement[Any], test: ColumnElement[bool]) -> ColumnElement[bool]:
        return and_(column.is_not(None), test) if guarded else test

    match node:
        case StatusCondition(scope="latest"):
            return known(f.latest_status, f.latest_status.in_(node.statuses))
        case StatusCondition():
            mask = sum(STATUS_BITS[s] for s in node.statuses)
            return f.statuses_seen.op("&")(mask) != 0
        case LastInteractionBetween():
            zone = ZoneInfo(node.timezone)
            start = datetime.combine(node.start, time(), zone)
            end = datetime.combine(node.end + timedelta(days=1), time(), zone)
            last = f.last_interaction_at
            return known(last, and_(last >= start, last < end))
        case LastInteractionWithin():
            cutoff = now - timedelta(days=node.days)
            return known(f.last_interaction_at, f.last_interaction_at >= cutoff)
        case LastInteractionBefore():
            cutoff = now - timedelta(days=node.days)
            return known(f.last_interaction_at, f.last_interaction_at < cutoff)
        case LastInteractionNever():
            return f.last_interaction_at.is_(None)
        case ConversationCountCondition(within_days=None):
            return _COMPARE[node.op](f.conversation_count, node.value)
        case ConversationCountCondition():
            return _windowed_count(node, now, per_row=False)
        case RatingCondition(measure="average"):
            value = literal(node.value, Float())
            return known(f.avg_rating, _COMPARE[node.op](f.avg_rating, value))
        case RatingCondition():
            value = literal(node.value, Float())
            return known(f.latest_rating, _COMPARE[node.op](f.latest_rating, value))
        case NoRatingCondition():
            return f.rating_count == 0
        case CustomFieldCondition():
            return _custom_field(node)
    raise TypeError(f"unknown condition {node!r}")  # pragma: no cover - the union is closed


def _labelled_live(names: list[str]) -> ColumnElement[bool]:
    """The contact has any of the labels ``names`` now, read from ``contact_labels``."""
    label_ids = select(LABELS.c.id).where(LABELS.c.name.in_(names))
    tagged = select(CONTACT_LABELS.c.contact_id).where(
        CONTACT_LABELS.c.label_id.in_(label_ids.scalar_subquery())
    )
    return FEATURES.c.contact_id.in_(tagged)


def _windowed_count(
    node: ConversationCountCondition, now: datetime, *, per_row: bool
) -> ColumnElement[bool]:
    """Count conversations active (last message) at or after ``now - within_days``.

    ``per_row`` counts each row's conversations through the (contact_id, last_message_at)
    index: fast after cheaper tests removed most rows. Otherwise the contacts passing are
    found in one grouped pass over the window (measured on 1M contacts: per row 140 ms vs
    246 ms behind a label test, grouped 153 ms vs 339 ms on its own, on SQLite).
    """
    assert node.within_days is not None
    cutoff = now - timedelta(days=node.within_days)
    compare = _COMPARE[node.op]
    conv = CONVERSATIONS.c
    if per_row:
        counted = (
            select(func.count())
            .where(conv.contact_id == FEATURES.c.contact_id, conv.last_message_at >= cutoff)
            .scalar_subquery()
        )
        return compare(counted, node.value)
    # Contacts without a conversation in the window count 0: when 0 passes the test,
    # ask for those not among the contacts whose count fails it.
    zero_passes = bool(compare(0, node.value))
    counted = func.count()
    wanted = not_(compare(counted, node.value)) if zero_passes else compare(counted, node.value)
    contacts = (
        select(conv.contact_id)
        .where(conv.last_message_at >= cutoff)
        .group_by(conv.contact_id)
        .having(wanted)
    )
    inside = FEATURES.c.contact_id.in_(contacts)
    return not_(inside) if zero_passes else inside


def value_kind(value: object) -> str:
    """How a custom-field condition compares: boolean, number, date or text."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if parse_iso_date(value) is not None:
        return "date"
    return "text"


def _custom_field(node: CustomFieldCondition) -> ColumnElement[bool]:
    column = FEATURES.c.custom_fields
    key = node.field

    def equals(value: object) -> ColumnElement[bool]:
        kind = value_kind(value)
        if kind == "boolean":
            return json_is_true(column, key) if value else json_is_false(column, key)
        return _ordered(column, key, kind, "eq", value)

    match node.op:
        case "eq":
            test = equals(node.value)
        case "ne":
            test = not_(equals(node.value))
        case "in":
            test = or_(*(equals(v) for v in node.values))
        case "contains":
            needle = _ascii_lower(str(node.value))
            text = ascii_lower(json_text(column, key))
            test = and_(json_is_string(column, key), text_contains(text, needle))
        case "is_set":
            test = _is_set(column, key)
        case "is_not_set":
            test = not_(_is_set(column, key))
        case _:
            test = _ordered(column, key, value_kind(node.value), node.op, node.value)
    return test


def _ordered(
    column: ColumnElement[Any], key: str, kind: str, op: str, value: object
) -> ColumnElement[bool]:
    compare = _COMPARE[op]
    if kind == "number":
        is_number = json_is_number(column, key)
        # CASE guarantees PostgreSQL never casts a non-number (which would raise).
        number = case((is_number, json_number(column, key)), else_=None)
        return and_(is_number, compare(number, literal(float(value), Float())))  # type: ignore[arg-type]
    text = json_text(column, key)
    # Equality needs the value's text in the document: a cheap first test where sound.
    verbatim = op == "eq" and _VERBATIM.fullmatch(str(value)) is not None
    prefilter = [json_may_contain(column, literal(str(value)))] if verbatim else []
    if kind == "date":
        return and_(
            *prefilter,
            json_is_string(column, key),
            looks_like_date(text),
            compare(func.substr(text, 1, 10), str(value)),
        )
    return and_(*prefilter, json_is_string(column, key), compare(text, str(value)))


#: Texts every JSON encoder writes unescaped (see sqlfuncs.json_may_contain).
_VERBATIM = re.compile(r"[A-Za-z0-9 _.,:@+-]+")


def _is_set(column: ColumnElement[Any], key: str) -> ColumnElement[bool]:
    empty_text = and_(json_is_string(column, key), json_text(column, key) == "")
    return and_(json_is_present(column, key), not_(empty_text))


def _ascii_lower(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)
