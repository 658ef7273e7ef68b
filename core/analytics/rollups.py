"""The engagement tables as pure Polars functions: ``LazyFrame`` in, ``LazyFrame`` out.

    message_facts     one row per campaign message: its timestamps, attributed opt-out,
                      time to reply and the campaign's timezone
    message_events    one row per thing that happened to a message (sent, delivered, ...)
    with_local_time   each event's moment on the campaign's wall clock
    engagement_hourly events per campaign and local hour
    engagement_daily  events per campaign and local date
    reply_latency     replies per campaign and time-to-reply bucket (every bucket present)
    by_hour_of_day    engagement_hourly summed per hour of the day (0-23, all present)
    by_day_of_week    engagement_hourly summed per weekday (1 = Monday ... 7 = Sunday)

The warehouse runs them over every campaign, the live path over one; no I/O happens here,
so each is tested on a handful of rows. The metrics themselves are in ``metrics``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from core.analytics.metrics import campaign_metrics

log = logging.getLogger("siaran.analytics")

UTC_TYPE = pl.Datetime("us", "UTC")
#: What can happen to a message, in the order it usually happens.
EVENTS = ("sent", "delivered", "read", "replied", "failed", "opted_out")
TIMESTAMPS = tuple(f"{event}_at" for event in EVENTS)

MESSAGE_SCHEMA: dict[str, pl.DataType] = {
    "message_id": pl.String(),
    "campaign_id": pl.String(),
    "contact_id": pl.String(),
    "status": pl.String(),
    "attempts": pl.Int64(),
    "error_code": pl.Int64(),
    "error_category": pl.String(),
    "sent_at": UTC_TYPE,
    "delivered_at": UTC_TYPE,
    "read_at": UTC_TYPE,
    "failed_at": UTC_TYPE,
    "replied_at": UTC_TYPE,
    "opted_out_at": UTC_TYPE,
    "created_at": UTC_TYPE,
    "updated_at": UTC_TYPE,
}
FACT_COLUMNS = (
    "message_id",
    "campaign_id",
    "contact_id",
    "timezone",
    "status",
    "attempts",
    "error_code",
    "error_category",
    *TIMESTAMPS,
    "reply_seconds",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class Bucket:
    """A time-to-reply range: ``min_seconds <= t < max_seconds`` (no upper bound: None)."""

    label: str
    min_seconds: int
    max_seconds: int | None


REPLY_BUCKETS: tuple[Bucket, ...] = (
    Bucket("under 5 min", 0, 300),
    Bucket("5-15 min", 300, 900),
    Bucket("15-60 min", 900, 3_600),
    Bucket("1-3 h", 3_600, 10_800),
    Bucket("3-6 h", 10_800, 21_600),
    Bucket("6-12 h", 21_600, 43_200),
    Bucket("12-24 h", 43_200, 86_400),
    Bucket("1-3 days", 86_400, 259_200),
    Bucket("3 days or more", 259_200, None),
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def safe_zone(name: str | None) -> str:
    """``name`` if it is an IANA timezone this machine knows, else UTC (logged)."""
    if name:
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("Unknown campaign timezone %r; analytics use UTC for it", name)
    return "UTC"


def message_facts(
    messages: pl.LazyFrame,
    campaigns: pl.LazyFrame,
    preferences: pl.LazyFrame,
    *,
    attribution_hours: float,
) -> pl.LazyFrame:
    """Messages with their campaign's timezone, attributed opt-out and time to reply.

    ``messages`` has ``MESSAGE_SCHEMA``'s columns, ``campaigns`` ``campaign_id`` and
    ``timezone``, ``preferences`` ``contact_id`` and ``opted_out_at``. An opt-out counts for
    a message when it happened within ``attribution_hours`` after the message was sent: the
    one the message records, else the contact's latest.
    """
    window = pl.duration(microseconds=round(attribution_hours * 3_600_000_000))
    contact_opt_outs = preferences.select(
        "contact_id", pl.col("opted_out_at").alias("contact_opted_out_at")
    ).filter(pl.col("contact_opted_out_at").is_not_null() & pl.col("contact_id").is_not_null())
    opted_out_at = pl.coalesce("opted_out_at", "contact_opted_out_at")
    attributed = (
        pl.when(
            pl.col("sent_at").is_not_null()
            & (opted_out_at >= pl.col("sent_at"))
            & (opted_out_at <= pl.col("sent_at") + window)
        )
        .then(opted_out_at)
        .otherwise(None)
    )
    reply_seconds = (
        pl.when(pl.col("replied_at") >= pl.col("sent_at"))
        .then((pl.col("replied_at") - pl.col("sent_at")).dt.total_microseconds() / 1_000_000)
        .otherwise(None)
    )
    return (
        messages.select(*MESSAGE_SCHEMA)
        .join(campaigns.select("campaign_id", "timezone"), on="campaign_id", how="left")
        .join(contact_opt_outs, on="contact_id", how="left")
        .with_columns(
            opted_out_at=attributed,
            reply_seconds=reply_seconds.cast(pl.Float64),
            timezone=pl.col("timezone").fill_null("UTC"),
        )
        .select(FACT_COLUMNS)
    )


def message_events(facts: pl.LazyFrame) -> pl.LazyFrame:
    """One row per event: ``campaign_id``, ``message_id``, ``timezone``, ``event``, ``at``."""
    return (
        facts.unpivot(
            index=["campaign_id", "message_id", "timezone"],
            on=list(TIMESTAMPS),
            variable_name="event",
            value_name="at",
        )
        .drop_nulls("at")
        .with_columns(pl.col("event").str.strip_suffix("_at"))
    )


def with_local_time(events: pl.LazyFrame, zones: Iterable[str]) -> pl.LazyFrame:
    """Add ``local_at``: ``at`` on the wall clock of the event's ``timezone`` (naive).

    Polars converts to one zone per expression, so events are split by zone; ``zones`` are
    the campaigns' timezones and anything else is read as UTC, never dropped.
    """
    known = sorted(set(zones) - {"UTC"})
    local = pl.col("at").dt.convert_time_zone
    parts = [
        events.filter(pl.col("timezone") == zone).with_columns(
            local_at=local(zone).dt.replace_time_zone(None)
        )
        for zone in known
    ]
    parts.append(
        events.filter(~pl.col("timezone").is_in(known)).with_columns(
            local_at=local("UTC").dt.replace_time_zone(None)
        )
    )
    return pl.concat(parts, how="vertical")


def _event_counts() -> list[pl.Expr]:
    return [(pl.col("event") == event).sum().cast(pl.Int64).alias(event) for event in EVENTS]


def engagement_hourly(local_events: pl.LazyFrame) -> pl.LazyFrame:
    """Events per campaign and hour of its local time (``hour``: the hour's local start)."""
    return (
        local_events.group_by("campaign_id", pl.col("local_at").dt.truncate("1h").alias("hour"))
        .agg(_event_counts())
        .sort("campaign_id", "hour")
    )


def engagement_daily(local_events: pl.LazyFrame) -> pl.LazyFrame:
    """Events per campaign and local calendar date (``day``)."""
    return (
        local_events.group_by("campaign_id", pl.col("local_at").dt.date().alias("day"))
        .agg(_event_counts())
        .sort("campaign_id", "day")
    )


def _buckets() -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "bucket": list(range(len(REPLY_BUCKETS))),
            "label": [b.label for b in REPLY_BUCKETS],
            "min_seconds": [b.min_seconds for b in REPLY_BUCKETS],
            "max_seconds": [b.max_seconds for b in REPLY_BUCKETS],
        },
        schema={
            "bucket": pl.Int32,
            "label": pl.String,
            "min_seconds": pl.Int64,
            "max_seconds": pl.Int64,
        },
    )


def reply_latency(facts: pl.LazyFrame) -> pl.LazyFrame:
    """Replies per campaign and ``REPLY_BUCKETS`` range, with each bucket's share."""
    lowers = [b.min_seconds for b in REPLY_BUCKETS[1:]]
    bucket = pl.sum_horizontal(
        [(pl.col("reply_seconds") >= low).cast(pl.Int32) for low in lowers]
    ).cast(pl.Int32)
    counts = (
        facts.filter(pl.col("reply_seconds").is_not_null())
        .group_by("campaign_id", bucket.alias("bucket"))
        .agg(pl.len().cast(pl.Int64).alias("replies"))
    )
    total = pl.col("replies").sum().over("campaign_id")
    return (
        facts.select("campaign_id")
        .unique()
        .join(_buckets(), how="cross")
        .join(counts, on=["campaign_id", "bucket"], how="left")
        .with_columns(pl.col("replies").fill_null(0))
        .with_columns(share=pl.when(total > 0).then(pl.col("replies") / total).otherwise(None))
        .sort("campaign_id", "bucket")
    )


def _complete(
    frame: pl.LazyFrame, key: str, values: pl.LazyFrame, campaigns: pl.LazyFrame
) -> pl.LazyFrame:
    """Every (campaign, key value) pair present, zeros where nothing happened."""
    return (
        campaigns.join(values, how="cross")
        .join(frame, on=["campaign_id", key], how="left")
        .with_columns(pl.col(event).fill_null(0) for event in EVENTS)
        .sort("campaign_id", key)
    )


def by_hour_of_day(hourly: pl.LazyFrame) -> pl.LazyFrame:
    """``engagement_hourly`` summed per local hour of the day, 0 to 23."""
    sums = hourly.group_by(
        "campaign_id", pl.col("hour").dt.hour().cast(pl.Int8).alias("hour_of_day")
    ).agg(pl.col(event).sum() for event in EVENTS)
    hours = pl.LazyFrame({"hour_of_day": list(range(24))}, schema={"hour_of_day": pl.Int8})
    return _complete(sums, "hour_of_day", hours, hourly.select("campaign_id").unique())


def by_day_of_week(hourly: pl.LazyFrame) -> pl.LazyFrame:
    """``engagement_hourly`` summed per local weekday, 1 (Monday) to 7 (Sunday)."""
    sums = hourly.group_by(
        "campaign_id", pl.col("hour").dt.weekday().cast(pl.Int8).alias("weekday")
    ).agg(pl.col(event).sum() for event in EVENTS)
    days = pl.LazyFrame(
        {"weekday": list(range(1, 8)), "day_name": list(WEEKDAYS)},
        schema={"weekday": pl.Int8, "day_name": pl.String},
    )
    return _complete(sums, "weekday", days, hourly.select("campaign_id").unique())


def _local_events(facts: pl.LazyFrame, zones: list[str]) -> pl.LazyFrame:
    return with_local_time(message_events(facts), zones)


#: The rollup tables, each from message_facts and the timezones in them.
TABLES: dict[str, Callable[[pl.LazyFrame, list[str]], pl.LazyFrame]] = {
    "campaign_metrics": lambda facts, zones: campaign_metrics(facts),
    "engagement_hourly": lambda facts, zones: engagement_hourly(_local_events(facts, zones)),
    "engagement_daily": lambda facts, zones: engagement_daily(_local_events(facts, zones)),
    "reply_latency": lambda facts, zones: reply_latency(facts),
}
