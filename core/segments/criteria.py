"""Segment criteria: the JSON document stored in ``segments.criteria`` and its validation.

A document is a group of conditions; groups nest::

    {"type": "all", "conditions": [...]}   every condition holds (an empty list: everyone)
    {"type": "any", "conditions": [...]}   at least one holds
    {"type": "not", "conditions": [...]}   none of them holds

Conditions, each told apart by its ``type``::

    labels              {"match": "any" | "all" | "none", "labels": ["vip", "reseller"]}
    status              {"scope": "latest" | "any", "statuses": ["resolved", "closed"]}
    last_interaction    {"op": "between", "start": "2025-01-01", "end": "2025-03-31",
                         "timezone": "Asia/Jakarta"}        (whole days, both ends included)
                        {"op": "within_days", "days": 30}   (at or after now - 30 days)
                        {"op": "more_than_days_ago", "days": 90}   (interacted, but before)
                        {"op": "never"}
    custom_field        {"field": "city", "op": "eq", "value": "Jakarta"}
                        ops: eq, ne, in ("values": [...]), contains (text, ASCII case folded),
                        gt, gte, lt, lte (a number or a "YYYY-MM-DD" date), is_set, is_not_set
    conversation_count  {"op": "gte", "value": 3, "within_days": 90}   (window optional)
    rating              {"measure": "average" | "latest", "op": "gte", "value": 4}
    no_rating           {}

Custom fields are typed by the condition's value: true/false compare with JSON booleans,
numbers with JSON numbers, "YYYY-MM-DD" strings with ISO date strings (their first ten
characters), other strings with strings. ``ne`` is the exact negation of ``eq`` (contacts
without the field are "not equal"); a field is set when present, not null and not "".
Relative conditions are evaluated against an explicit ``now`` (see ``core.segments.compiler``).

``parse_criteria`` turns a document into these models or raises ``InvalidInput`` whose
``errors`` say where and why: ``conditions[1].conditions[0].start: expected a date``.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from core.errors import InvalidInput
from core.segments.criteria_errors import clean_path, message, summary

#: Date conditions count whole days in the business's timezone; Siaran's users are in Indonesia.
DEFAULT_TIMEZONE = "Asia/Jakarta"
MAX_DEPTH = 8
MAX_NODES = 200
MAX_LIST = 500

Status = Literal["incoming", "in_progress", "waiting", "resolved", "closed"]
Comparison = Literal["eq", "ne", "gt", "gte", "lt", "lte"]
Scalar = str | int | float | bool

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIELD_NAME = re.compile(r'^[^"\\\x00-\x1f]{1,100}$')


def parse_iso_date(value: object) -> date | None:
    """``value`` as a date if it is a ``YYYY-MM-DD`` string naming a real day, else None."""
    if isinstance(value, str) and _DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _iso_date(value: object) -> date:
    if isinstance(value, date):
        return value
    parsed = parse_iso_date(value)
    if parsed is None:
        raise PydanticCustomError("iso_date", "expected a date (YYYY-MM-DD)")
    return parsed


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("whole_number", "expected a whole number")
    return value


def _number(value: object) -> object:
    if not _is_number(value):
        raise PydanticCustomError("number", "expected a number")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
WholeNumber = Annotated[int, BeforeValidator(_whole)]
Days = Annotated[int, BeforeValidator(_whole), Field(ge=1, le=36500)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def _unique(values: list[Any]) -> list[Any]:
    """Drop repeats, keeping the first occurrence (the order the user chose)."""
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- conditions -------------------------------------------------------------------------------


class LabelsCondition(_Node):
    type: Literal["labels"]
    match: Literal["any", "all", "none"]
    labels: list[Name] = Field(min_length=1, max_length=MAX_LIST)

    @field_validator("labels")
    @classmethod
    def _dedupe(cls, labels: list[str]) -> list[str]:
        return _unique(labels)


class StatusCondition(_Node):
    type: Literal["status"]
    scope: Literal["latest", "any"] = "latest"
    statuses: list[Status] = Field(min_length=1)

    @field_validator("statuses")
    @classmethod
    def _dedupe(cls, statuses: list[str]) -> list[str]:
        return _unique(statuses)


class LastInteractionBetween(_Node):
    type: Literal["last_interaction"]
    op: Literal["between"]
    start: IsoDate
    end: IsoDate
    timezone: str = DEFAULT_TIMEZONE

    @field_validator("end")
    @classmethod
    def _not_before_start(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None and end < start:
            raise PydanticCustomError("date_order", "must not be before start")
        return end

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone",
                "unknown timezone '{name}'; use an IANA name like Asia/Jakarta",
                {"name": name},
            ) from None
        return name


class LastInteractionWithin(_Node):
    type: Literal["last_interaction"]
    op: Literal["within_days"]
    days: Days


class LastInteractionBefore(_Node):
    type: Literal["last_interaction"]
    op: Literal["more_than_days_ago"]
    days: Days


class LastInteractionNever(_Node):
    type: Literal["last_interaction"]
    op: Literal["never"]


LastInteractionCondition = Annotated[
    LastInteractionBetween | LastInteractionWithin | LastInteractionBefore | LastInteractionNever,
    Field(discriminator="op"),
]

FieldOp = Literal["eq", "ne", "in", "contains", "gt", "gte", "lt", "lte", "is_set", "is_not_set"]


def _scalar(value: object) -> Scalar:
    if isinstance(value, str | bool) or _is_number(value):
        return value  # type: ignore[return-value]
    raise PydanticCustomError("scalar", "expected a text, a number or true/false")


class CustomFieldCondition(_Node):
    type: Literal["custom_field"]
    field: str
    op: FieldOp
    value: Any = Field(default=None, validate_default=True)
    values: Any = Field(default=None, validate_default=True)

    @field_validator("field")
    @classmethod
    def _field_name(cls, name: str) -> str:
        name = name.strip()
        if not _FIELD_NAME.match(name):
            raise PydanticCustomError(
                "field_name", "expected a field name of 1-100 characters without quotes"
            )
        return name

    @field_validator("value")
    @classmethod
    def _value_fits_op(cls, value: Any, info: ValidationInfo) -> Any:
        op = info.data.get("op")
        if op is None:
            return value  # the op itself is reported
        if op in ("in", "is_set", "is_not_set"):
            if value is not None:
                hint = ' (put the choices in "values")' if op == "in" else ""
                raise PydanticCustomError("unexpected", f"not used with {op}{hint}")
            return None
        if value is None:
            raise PydanticCustomError("value_missing", f"required with {op}")
        if op == "contains":
            if not isinstance(value, str) or not value:
                raise PydanticCustomError("text", "expected a non-empty text")
            return value
        if op in ("gt", "gte", "lt", "lte"):
            if _is_number(value) or parse_iso_date(value) is not None:
                return value
            raise PydanticCustomError("orderable", "expected a number or a date (YYYY-MM-DD)")
        return _scalar(value)

    @field_validator("values")
    @classmethod
    def _values_fit_op(cls, values: Any, info: ValidationInfo) -> Any:
        op = info.data.get("op")
        if op is None:
            return values
        if op != "in":
            if values is not None:
                raise PydanticCustomError("unexpected", f"not used with {op}")
            return None
        if not isinstance(values, list) or not values:
            raise PydanticCustomError("list", "expected a non-empty list of choices")
        if len(values) > MAX_LIST:
            raise PydanticCustomError("too_long", f"at most {MAX_LIST} choices")
        return _unique([_scalar(v) for v in values])


class ConversationCountCondition(_Node):
    type: Literal["conversation_count"]
    op: Comparison
    value: Annotated[WholeNumber, Field(ge=0)]
    within_days: Days | None = None


class RatingCondition(_Node):
    type: Literal["rating"]
    measure: Literal["average", "latest"]
    op: Comparison
    value: Annotated[float, BeforeValidator(_number), Field(ge=1, le=5)]


class NoRatingCondition(_Node):
    type: Literal["no_rating"]


# --- groups -----------------------------------------------------------------------------------


class AllGroup(_Node):
    type: Literal["all"]
    conditions: list[Node] = Field(default_factory=list, max_length=MAX_NODES)


class AnyGroup(_Node):
    type: Literal["any"]
    conditions: list[Node] = Field(min_length=1, max_length=MAX_NODES)


class NotGroup(_Node):
    type: Literal["not"]
    conditions: list[Node] = Field(min_length=1, max_length=MAX_NODES)


Group = AllGroup | AnyGroup | NotGroup
Condition = (
    LabelsCondition
    | StatusCondition
    | LastInteractionBetween
    | LastInteractionWithin
    | LastInteractionBefore
    | LastInteractionNever
    | CustomFieldCondition
    | ConversationCountCondition
    | RatingCondition
    | NoRatingCondition
)
Node = Annotated[
    AllGroup
    | AnyGroup
    | NotGroup
    | LabelsCondition
    | StatusCondition
    | LastInteractionCondition
    | CustomFieldCondition
    | ConversationCountCondition
    | RatingCondition
    | NoRatingCondition,
    Field(discriminator="type"),
]
Criteria = Annotated[AllGroup | AnyGroup | NotGroup, Field(discriminator="type")]

for _model in (AllGroup, AnyGroup, NotGroup):
    _model.model_rebuild()

_ADAPTER: TypeAdapter[Group] = TypeAdapter(Criteria)
#: Matches every contact: the criteria of a segment of everyone.
EVERYONE: dict[str, Any] = {"type": "all", "conditions": []}


def parse_criteria(document: object) -> Group:
    """Validate a criteria document; raise InvalidInput listing each bad part's path and why."""
    if isinstance(document, Group):
        return document
    try:
        criteria = _ADAPTER.validate_python(document)
    except ValidationError as exc:
        errors = [
            {"path": clean_path(error["loc"], document), "message": message(error)}
            for error in exc.errors()
        ]
        raise InvalidInput(summary(errors), errors) from None
    _check_size(criteria)
    return criteria


def dump_criteria(criteria: Group) -> dict[str, Any]:
    """The JSON document stored in ``segments.criteria`` (defaults written out)."""
    return _ADAPTER.dump_python(criteria, mode="json", exclude_none=True)


def criteria_json_schema() -> dict[str, Any]:
    """The JSON Schema of a criteria document, for API docs and form builders."""
    return _ADAPTER.json_schema()


def _check_size(criteria: Group) -> None:
    count = 0

    def walk(node: Group | Condition, path: str, depth: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            error = {"path": path or "criteria", "message": f"more than {MAX_NODES} conditions"}
            raise InvalidInput(summary([error]), [error])
        if isinstance(node, AllGroup | AnyGroup | NotGroup):
            if depth > MAX_DEPTH:
                error = {"path": path or "criteria", "message": f"nested deeper than {MAX_DEPTH}"}
                raise InvalidInput(summary([error]), [error])
            for i, child in enumerate(node.conditions):
                walk(child, f"{path}.conditions[{i}]".lstrip("."), depth + 1)

    walk(criteria, "", 1)
