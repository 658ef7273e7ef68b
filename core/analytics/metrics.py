"""Every campaign metric, defined once: its name, its words, and the Polars that computes it.

The warehouse (``campaign_metrics``), the REST API, the Streamlit page and the exports all
read these definitions; ``docs/metrics.md`` explains them and a test keeps it in step.

Counts are over a campaign's messages (one per recipient, ``message_facts``)::

    total_recipients  messages in the outbox
    sent              sent_at set: WhatsApp accepted the message
    delivered         delivered_at set: it reached the phone
    read              read_at set: the recipient opened it (only when read receipts are on)
    failed            status = failed, now (a retried message stops counting)
    replied           replied_at set: the recipient answered within the attribution window
    opted_out         the recipient opted out within the attribution window after sending

Rates are ratios of those counts; a zero denominator gives null (no data), never an error::

    delivery_rate  delivered / sent        open_rate      read / delivered
    reply_rate     replied / delivered     response_rate  replied / sent
    failure_rate   failed / total          opt_out_rate   opted_out / delivered

Reply times are ``replied_at - sent_at`` in seconds over replied messages; the median is the
middle value (the mean of the two middle values for an even count).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

import polars as pl

from sql.schema import MESSAGE_STATUSES

Kind = Literal["count", "rate", "seconds"]


@dataclass(frozen=True)
class Metric:
    """One metric: its column name, label on screen, kind and definition in words."""

    name: str
    label: str
    kind: Kind
    definition: str


METRICS: tuple[Metric, ...] = (
    Metric(
        "total_recipients",
        "Recipients",
        "count",
        "Messages in the campaign's outbox: one per recipient after exclusions.",
    ),
    Metric(
        "sent",
        "Sent",
        "count",
        "Messages WhatsApp accepted (sent_at is set), whatever happened next.",
    ),
    Metric(
        "delivered",
        "Delivered",
        "count",
        "Messages that reached the recipient's phone (delivered_at is set).",
    ),
    Metric(
        "read",
        "Read",
        "count",
        "Messages the recipient opened (read_at is set). Recipients who turned read "
        "receipts off never count as read.",
    ),
    Metric(
        "failed",
        "Failed",
        "count",
        "Messages whose status is failed now; a failure an owner retried stops counting.",
    ),
    Metric(
        "replied",
        "Replied",
        "count",
        "Messages the recipient answered within the reply attribution window (replied_at is set).",
    ),
    Metric(
        "opted_out",
        "Opted out",
        "count",
        "Messages whose recipient opted out within the reply attribution window after "
        "the message was sent: the opt-out recorded on the message, else the contact's "
        "latest opt-out time.",
    ),
    Metric("delivery_rate", "Delivery rate", "rate", "delivered / sent."),
    Metric("open_rate", "Open rate", "rate", "read / delivered."),
    Metric("reply_rate", "Reply rate", "rate", "replied / delivered."),
    Metric(
        "response_rate",
        "Response rate",
        "rate",
        "replied / sent: the share of accepted messages that got an answer, including "
        "answers to messages whose delivery receipt never arrived.",
    ),
    Metric("failure_rate", "Failure rate", "rate", "failed / total_recipients."),
    Metric("opt_out_rate", "Opt-out rate", "rate", "opted_out / delivered."),
    Metric(
        "avg_reply_seconds",
        "Average time to reply",
        "seconds",
        "Mean of replied_at - sent_at over replied messages, in seconds.",
    ),
    Metric(
        "median_reply_seconds",
        "Median time to reply",
        "seconds",
        "Median of replied_at - sent_at over replied messages, in seconds (the mean of "
        "the two middle values for an even count).",
    ),
)

METRIC_BY_NAME = {metric.name: metric for metric in METRICS}
COUNTS = tuple(m.name for m in METRICS if m.kind == "count")
#: rate -> (numerator, denominator)
RATES: dict[str, tuple[str, str]] = {
    "delivery_rate": ("delivered", "sent"),
    "open_rate": ("read", "delivered"),
    "reply_rate": ("replied", "delivered"),
    "response_rate": ("replied", "sent"),
    "failure_rate": ("failed", "total_recipients"),
    "opt_out_rate": ("opted_out", "delivered"),
}
STATUS_COLUMNS = tuple(f"status_{status}" for status in MESSAGE_STATUSES)


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, or None when the denominator is zero."""
    return numerator / denominator if denominator else None


def ratio_expr(numerator: str, denominator: str) -> pl.Expr:
    """The same rule as ``ratio`` as a Polars expression (null on a zero denominator)."""
    return (
        pl.when(pl.col(denominator) > 0)
        .then(pl.col(numerator) / pl.col(denominator))
        .otherwise(None)
        .cast(pl.Float64)
    )


def count_exprs() -> list[pl.Expr]:
    """The per-campaign counts over ``message_facts`` rows (see the module docstring)."""
    return [
        pl.len().cast(pl.Int64).alias("total_recipients"),
        pl.col("sent_at").is_not_null().sum().cast(pl.Int64).alias("sent"),
        pl.col("delivered_at").is_not_null().sum().cast(pl.Int64).alias("delivered"),
        pl.col("read_at").is_not_null().sum().cast(pl.Int64).alias("read"),
        (pl.col("status") == "failed").sum().cast(pl.Int64).alias("failed"),
        pl.col("replied_at").is_not_null().sum().cast(pl.Int64).alias("replied"),
        pl.col("opted_out_at").is_not_null().sum().cast(pl.Int64).alias("opted_out"),
    ]


def campaign_metrics(facts: pl.LazyFrame) -> pl.LazyFrame:
    """One row per campaign with every metric and the message-status breakdown."""
    statuses = [
        (pl.col("status") == status).sum().cast(pl.Int64).alias(column)
        for status, column in zip(MESSAGE_STATUSES, STATUS_COLUMNS, strict=True)
    ]
    latest = pl.max_horizontal(
        "sent_at", "delivered_at", "read_at", "failed_at", "replied_at", "opted_out_at"
    )
    return (
        facts.group_by("campaign_id")
        .agg(
            *count_exprs(),
            pl.col("reply_seconds").mean().alias("avg_reply_seconds"),
            pl.col("reply_seconds").median().alias("median_reply_seconds"),
            *statuses,
            pl.col("sent_at").min().alias("first_sent_at"),
            latest.max().alias("last_activity_at"),
        )
        .with_columns(ratio_expr(n, d).alias(name) for name, (n, d) in RATES.items())
        .select(
            "campaign_id",
            *(m.name for m in METRICS),
            *STATUS_COLUMNS,
            "first_sent_at",
            "last_activity_at",
        )
        .sort("campaign_id")
    )


@dataclass(frozen=True)
class CampaignMetrics:
    """One campaign's metrics, as every entry point shows them."""

    total_recipients: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    replied: int = 0
    opted_out: int = 0
    delivery_rate: float | None = None
    open_rate: float | None = None
    reply_rate: float | None = None
    response_rate: float | None = None
    failure_rate: float | None = None
    opt_out_rate: float | None = None
    avg_reply_seconds: float | None = None
    median_reply_seconds: float | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CampaignMetrics:
        values = {f.name: row.get(f.name) for f in fields(cls)}
        for name in COUNTS:
            values[name] = int(values[name] or 0)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def status_breakdown(row: dict[str, Any] | None) -> dict[str, int]:
    """Messages per current status, every status present (zeros included)."""
    row = row or {}
    return {
        status: int(row.get(column) or 0)
        for status, column in zip(MESSAGE_STATUSES, STATUS_COLUMNS, strict=True)
    }


def format_value(metric: Metric, value: Any) -> str:
    """A metric as people read it: 1,234 / 12.5% / 3 h 20 min / "–" for no data."""
    if value is None:
        return "–"
    if metric.kind == "count":
        return f"{int(value):,}"
    if metric.kind == "rate":
        return f"{value * 100:.1f}%"
    return format_duration(float(value))


def format_duration(seconds: float) -> str:
    """``75`` -> ``1 min 15 s``; ``7260`` -> ``2 h 1 min``; ``90000`` -> ``1 d 1 h``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
