"""A straightforward Polars evaluator of segment criteria over the raw CRM rows.

It shares nothing with the SQL compiler but the criteria models: aggregates are computed
here from the conversations themselves (not from ``contact_features``), and custom fields
are read from the Python dicts. Tests compare the compiler's members with these.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

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
from tests.core.segments.crm import Dataset

_DATE_PREFIX = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")
_OPS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}
UTC_DT = pl.Datetime("us", "UTC")


def evaluate(data: Dataset, criteria: Group | dict[str, Any], now: datetime) -> set[uuid.UUID]:
    """The ids of the contacts in ``data`` that ``criteria`` match at ``now``."""
    frame = contact_frame(data)
    if frame.height == 0:
        return set()
    mask = frame.select(_node(parse_criteria(criteria), data, frame, now).alias("m"))["m"]
    return {uuid.UUID(i) for i in frame.filter(mask)["contact_id"]}


def conversations_frame(data: Dataset) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [str(c["id"]) for c in data.conversations],
            "contact_id": [str(c["contact_id"]) for c in data.conversations],
            "status": [c["status"] for c in data.conversations],
            "rating": [c["rating"] for c in data.conversations],
            "created_at": [c["created_at"] for c in data.conversations],
            "last_message_at": [c["last_message_at"] for c in data.conversations],
        },
        schema={
            "id": pl.String,
            "contact_id": pl.String,
            "status": pl.String,
            "rating": pl.Int64,
            "created_at": UTC_DT,
            "last_message_at": UTC_DT,
        },
    )


def contact_frame(data: Dataset) -> pl.DataFrame:
    """One row per contact: its labels and the aggregates of its conversations."""
    contacts = pl.DataFrame(
        {"contact_id": [str(c["id"]) for c in data.contacts]}, schema={"contact_id": pl.String}
    )
    names = {row["id"]: row["name"] for row in data.labels}
    labels = (
        pl.DataFrame(
            {
                "contact_id": [str(r["contact_id"]) for r in data.contact_labels],
                "label": [names[r["label_id"]] for r in data.contact_labels],
            },
            schema={"contact_id": pl.String, "label": pl.String},
        )
        .group_by("contact_id")
        .agg(pl.col("label").alias("labels"))
    )
    conv = conversations_frame(data)
    newest_first = conv.sort(
        ["last_message_at", "created_at", "id"], descending=True, maintain_order=True
    )
    aggregates = newest_first.group_by("contact_id", maintain_order=True).agg(
        pl.col("last_message_at").max().alias("last_interaction_at"),
        pl.col("status").first().alias("latest_status"),
        pl.col("status").unique().alias("statuses"),
        pl.len().alias("conversation_count"),
        pl.col("rating").count().alias("rating_count"),
        pl.col("rating").cast(pl.Float64).mean().alias("avg_rating"),
        pl.col("rating").drop_nulls().first().alias("latest_rating"),
    )
    return (
        contacts.join(labels, on="contact_id", how="left")
        .join(aggregates, on="contact_id", how="left")
        .with_columns(
            pl.col("labels").fill_null([]),
            pl.col("statuses").fill_null([]),
            pl.col("conversation_count").fill_null(0),
            pl.col("rating_count").fill_null(0),
        )
    )


def _node(node: Group | Condition, data: Dataset, frame: pl.DataFrame, now: datetime) -> pl.Expr:
    if isinstance(node, AllGroup | AnyGroup | NotGroup):
        parts = [_node(child, data, frame, now) for child in node.conditions]
        if isinstance(node, AllGroup):
            return pl.all_horizontal(parts) if parts else pl.lit(True)
        either = pl.any_horizontal(parts)
        return either if isinstance(node, AnyGroup) else ~either
    # Every leaf is two-valued: a missing value never matches, and ``not`` flips that.
    return _leaf(node, data, frame, now).fill_null(False)


def _leaf(node: Condition, data: Dataset, frame: pl.DataFrame, now: datetime) -> pl.Expr:
    last = pl.col("last_interaction_at")
    match node:
        case LabelsCondition(match="any"):
            return pl.col("labels").list.eval(pl.element().is_in(node.labels)).list.any()
        case LabelsCondition(match="none"):
            return ~pl.col("labels").list.eval(pl.element().is_in(node.labels)).list.any()
        case LabelsCondition():
            return pl.all_horizontal([pl.col("labels").list.contains(n) for n in node.labels])
        case StatusCondition(scope="latest"):
            return pl.col("latest_status").is_in(node.statuses)
        case StatusCondition():
            return pl.col("statuses").list.eval(pl.element().is_in(node.statuses)).list.any()
        case LastInteractionBetween():
            zone = ZoneInfo(node.timezone)
            start = datetime.combine(node.start, time(), zone)
            end = datetime.combine(node.end + timedelta(days=1), time(), zone)
            return (last >= pl.lit(start).cast(UTC_DT)) & (last < pl.lit(end).cast(UTC_DT))
        case LastInteractionWithin():
            return last >= pl.lit(now - timedelta(days=node.days)).cast(UTC_DT)
        case LastInteractionBefore():
            return last < pl.lit(now - timedelta(days=node.days)).cast(UTC_DT)
        case LastInteractionNever():
            return last.is_null()
        case ConversationCountCondition(within_days=None):
            return _OPS[node.op](pl.col("conversation_count"), node.value)
        case ConversationCountCondition():
            return pl.Series(_windowed_counts(data, frame, node, now))
        case RatingCondition(measure="average"):
            return _OPS[node.op](pl.col("avg_rating"), node.value)
        case RatingCondition():
            return _OPS[node.op](pl.col("latest_rating"), node.value)
        case NoRatingCondition():
            return pl.col("rating_count") == 0
        case CustomFieldCondition():
            fields = {str(c["id"]): c["custom_fields"] for c in data.contacts}
            return pl.Series(
                [_custom_field(fields[cid], node) for cid in frame["contact_id"]], dtype=pl.Boolean
            )
    raise TypeError(node)


def _windowed_counts(
    data: Dataset, frame: pl.DataFrame, node: ConversationCountCondition, now: datetime
) -> list[bool]:
    cutoff = now - timedelta(days=node.within_days or 0)
    counts = (
        conversations_frame(data)
        .filter(pl.col("last_message_at") >= pl.lit(cutoff).cast(UTC_DT))
        .group_by("contact_id")
        .len()
    )
    per_contact = dict(zip(counts["contact_id"], counts["len"], strict=True))
    return [_OPS[node.op](per_contact.get(cid, 0), node.value) for cid in frame["contact_id"]]


def _ascii_lower(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if parse_iso_date(value) is not None:
        return "date"
    return "text"


def _equals(raw: object, value: object) -> bool:
    kind = _kind(value)
    if kind == "boolean":
        return isinstance(raw, bool) and raw is value
    return _compare(raw, "eq", value)


def _compare(raw: object, op: str, value: object) -> bool:
    kind = _kind(value)
    if kind == "number":
        is_number = isinstance(raw, int | float) and not isinstance(raw, bool)
        return is_number and _OPS[op](float(raw), float(value))  # type: ignore[arg-type]
    if not isinstance(raw, str):
        return False
    if kind == "date":
        return bool(_DATE_PREFIX.match(raw)) and _OPS[op](raw[:10], value)
    return _OPS[op](raw, value)


def _custom_field(fields: dict[str, Any], node: CustomFieldCondition) -> bool:
    raw = fields.get(node.field) if isinstance(fields, dict) else None
    is_set = raw is not None and raw != ""
    match node.op:
        case "eq":
            return _equals(raw, node.value)
        case "ne":
            return not _equals(raw, node.value)
        case "in":
            return any(_equals(raw, v) for v in node.values)
        case "contains":
            return isinstance(raw, str) and _ascii_lower(node.value) in _ascii_lower(raw)
        case "is_set":
            return is_set
        case "is_not_set":
            return not is_set
        case _:
            return _compare(raw, node.op, node.value)
