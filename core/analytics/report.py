"""A campaign's analytics as every entry point shows them: the API, the page and the exports.

Rollups come from the published warehouse when it is current for the campaign: it knows
the campaign, was built with today's attribution window, and either was refreshed within
MAX_AGE or nothing in the outbox changed since its last load. Otherwise they are computed
live from the operational database with the same functions (``rollups``, ``metrics``).
``Source`` says which and as of when. The API and the Streamlit page call these functions,
so the numbers on the page are the API's.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import duckdb
import polars as pl
import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.analytics import extract, rollups
from core.analytics.metrics import CampaignMetrics, status_breakdown
from core.analytics.warehouse import (
    SCHEMA_VERSION,
    Warehouse,
    WarehouseInfo,
    WarehouseMissing,
    first,
    read_info,
)
from core.campaigns.service import load
from core.errors import InvalidInput
from core.permissions import Actor, Permission, require
from core.settings import Settings
from sql.schema import Campaign, CampaignMessage
from sql.types import utcnow

log = logging.getLogger("siaran.analytics")

MAX_AGE = timedelta(minutes=10)
GRANULARITIES = ("hourly", "daily")
Granularity = Literal["hourly", "daily"]
ORDER = {
    "campaign_metrics": "",
    "engagement_hourly": "hour",
    "engagement_daily": "day",
    "reply_latency": "bucket",
}


@dataclass(frozen=True)
class Source:
    """Where rollups came from: the published warehouse or a live computation, and when."""

    kind: Literal["warehouse", "live"]
    as_of: datetime


@dataclass(frozen=True)
class LatencyBucket:
    label: str
    min_seconds: int
    max_seconds: int | None
    replies: int
    share: float | None


@dataclass(frozen=True)
class CampaignReport:
    """Every metric of one campaign, its status breakdown and reply-time distribution."""

    campaign_id: uuid.UUID
    name: str
    status: str
    timezone: str
    metrics: CampaignMetrics
    statuses: dict[str, int]
    reply_latency: list[LatencyBucket]
    first_sent_at: datetime | None
    last_activity_at: datetime | None
    source: Source


@dataclass(frozen=True)
class Timeline:
    """Events per local hour or day; ``period`` is naive local time in ``timezone``."""

    campaign_id: uuid.UUID
    granularity: Granularity
    timezone: str
    points: list[dict[str, Any]]
    source: Source


@dataclass(frozen=True)
class Engagement:
    """When recipients engage: events per local hour of the day and per weekday."""

    campaign_id: uuid.UUID
    timezone: str
    by_hour: list[dict[str, Any]]
    by_weekday: list[dict[str, Any]]
    source: Source


@dataclass
class _Tables:
    frames: dict[str, pl.DataFrame]
    source: Source


# --- where the rollups come from -------------------------------------------------------


def _current(session: Session, info: WarehouseInfo, settings: Settings, now: datetime) -> bool:
    if info.schema_version != SCHEMA_VERSION:
        return False
    if info.attribution_hours != settings.reply_attribution_hours:
        return False
    if now - info.refreshed_at <= MAX_AGE:
        return True
    latest = session.scalar(select(func.max(CampaignMessage.updated_at)))
    return latest is None or (info.messages_through is not None and latest <= info.messages_through)


def _published(
    session: Session,
    campaign: Campaign,
    names: tuple[str, ...],
    warehouse: Warehouse,
    settings: Settings,
    now: datetime,
) -> _Tables | None:
    try:
        with warehouse.reader() as con:
            info = read_info(con)
            if info is None or not _current(session, info, settings, now):
                return None
            key: list[object] = [str(campaign.id)]
            known = first(con, "SELECT 1 FROM campaigns WHERE campaign_id = ?", key)
            if known is None:
                return None
            frames = {}
            for name in names:
                order = f" ORDER BY {ORDER[name]}" if ORDER[name] else ""
                sql = f"SELECT * FROM {name} WHERE campaign_id = ?{order}"
                frames[name] = con.sql(sql, params=key).pl()
            return _Tables(frames, Source("warehouse", info.refreshed_at))
    except WarehouseMissing:
        return None
    except duckdb.Error:
        # A damaged or foreign file must not take the analytics down: compute live.
        log.warning(
            "Cannot read the warehouse at %s; computing live", warehouse.path, exc_info=True
        )
        return None


def live_facts(session: Session, campaign: Campaign, settings: Settings) -> pl.LazyFrame:
    """One campaign's message_facts, computed from the operational database now."""
    conn = session.connection()
    schema = extract.schema_of(extract.MESSAGE_FIELDS)
    batches = list(extract.stream(conn, extract.messages_query(campaign_id=campaign.id), schema))
    messages = pa.Table.from_batches(batches, schema=schema)
    pref_schema = extract.schema_of(extract.PREFERENCE_FIELDS)
    preferences = pa.Table.from_batches(
        list(extract.stream(conn, extract.preferences_query(campaign_id=campaign.id), pref_schema)),
        schema=pref_schema,
    )
    campaigns = extract.campaigns_table(conn, campaign.id)
    return rollups.message_facts(
        pl.from_arrow(messages).lazy(),  # type: ignore[union-attr]
        pl.from_arrow(campaigns).lazy(),  # type: ignore[union-attr]
        pl.from_arrow(preferences).lazy(),  # type: ignore[union-attr]
        attribution_hours=settings.reply_attribution_hours,
    )


def _live(
    session: Session, campaign: Campaign, names: tuple[str, ...], settings: Settings, now: datetime
) -> _Tables:
    facts = live_facts(session, campaign, settings)
    zones = [rollups.safe_zone(campaign.timezone)]
    frames = pl.collect_all([rollups.TABLES[name](facts, zones) for name in names])
    return _Tables(dict(zip(names, frames, strict=True)), Source("live", now))


def _tables(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    names: tuple[str, ...],
    warehouse: Warehouse,
    settings: Settings,
    now: datetime | None,
) -> tuple[Campaign, _Tables]:
    require(actor, Permission.ANALYTICS_READ)
    campaign = load(session, campaign_id)
    now = now or utcnow()
    tables = _published(session, campaign, names, warehouse, settings, now)
    return campaign, tables or _live(session, campaign, names, settings, now)


# --- what the entry points ask for -----------------------------------------------------


def campaign_report(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    warehouse: Warehouse,
    settings: Settings,
    now: datetime | None = None,
) -> CampaignReport:
    """Every metric of ``docs/metrics.md`` for one campaign."""
    campaign, tables = _tables(
        session, actor, campaign_id, ("campaign_metrics", "reply_latency"), warehouse, settings, now
    )
    rows = tables.frames["campaign_metrics"].to_dicts()
    row = rows[0] if rows else {}
    return CampaignReport(
        campaign_id=campaign.id,
        name=campaign.name,
        status=campaign.status,
        timezone=rollups.safe_zone(campaign.timezone),
        metrics=CampaignMetrics.from_row(row),
        statuses=status_breakdown(row),
        reply_latency=_latency(tables.frames["reply_latency"]),
        first_sent_at=row.get("first_sent_at"),
        last_activity_at=row.get("last_activity_at"),
        source=tables.source,
    )


def _latency(frame: pl.DataFrame) -> list[LatencyBucket]:
    found = {row["bucket"]: row for row in frame.to_dicts()}
    buckets = []
    for index, bucket in enumerate(rollups.REPLY_BUCKETS):
        row = found.get(index, {})
        buckets.append(
            LatencyBucket(
                bucket.label,
                bucket.min_seconds,
                bucket.max_seconds,
                int(row.get("replies") or 0),
                row.get("share"),
            )
        )
    return buckets


def timeline(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    granularity: str = "hourly",
    *,
    warehouse: Warehouse,
    settings: Settings,
    now: datetime | None = None,
) -> Timeline:
    """Events per local hour or day, gaps filled with zeros between the first and last."""
    if granularity not in GRANULARITIES:
        raise InvalidInput(
            f"granularity must be hourly or daily, got {granularity!r}",
            [{"field": "granularity", "message": "must be hourly or daily"}],
        )
    name = "engagement_hourly" if granularity == "hourly" else "engagement_daily"
    campaign, tables = _tables(session, actor, campaign_id, (name,), warehouse, settings, now)
    column = "hour" if granularity == "hourly" else "day"
    frame = tables.frames[name].drop("campaign_id").rename({column: "period"})
    if frame.height > 1:
        frame = (
            frame.sort("period")
            .upsample("period", every="1h" if granularity == "hourly" else "1d")
            .with_columns(pl.col(event).fill_null(0) for event in rollups.EVENTS)
        )
    return Timeline(
        campaign.id,
        granularity,
        rollups.safe_zone(campaign.timezone),  # type: ignore[arg-type]
        frame.to_dicts(),
        tables.source,
    )


def engagement(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    warehouse: Warehouse,
    settings: Settings,
    now: datetime | None = None,
) -> Engagement:
    """Events per local hour of the day (0-23) and per weekday (Monday first)."""
    campaign, tables = _tables(
        session, actor, campaign_id, ("engagement_hourly",), warehouse, settings, now
    )
    hourly = tables.frames["engagement_hourly"].lazy()
    if tables.frames["engagement_hourly"].is_empty():
        hourly = pl.LazyFrame(
            {"campaign_id": [str(campaign.id)], "hour": [None]},
            schema={"campaign_id": pl.String, "hour": pl.Datetime("us")},
        ).with_columns(pl.lit(0, pl.Int64).alias(event) for event in rollups.EVENTS)
    by_hour, by_weekday = pl.collect_all(
        [rollups.by_hour_of_day(hourly), rollups.by_day_of_week(hourly)]
    )
    return Engagement(
        campaign.id,
        rollups.safe_zone(campaign.timezone),
        by_hour.drop("campaign_id").to_dicts(),
        by_weekday.drop("campaign_id").to_dicts(),
        tables.source,
    )


@dataclass(frozen=True)
class CampaignChoice:
    id: uuid.UUID
    name: str
    status: str
    started_at: datetime | None


def campaign_choices(session: Session, actor: Actor, *, limit: int = 200) -> list[CampaignChoice]:
    """Campaigns that have been launched (they have something to measure), latest first."""
    require(actor, Permission.ANALYTICS_READ)
    rows = session.execute(
        select(Campaign.id, Campaign.name, Campaign.status, Campaign.started_at)
        .where(Campaign.status.not_in(("draft", "scheduled")))
        .order_by(func.coalesce(Campaign.started_at, Campaign.created_at).desc(), Campaign.id)
        .limit(limit)
    ).all()
    return [CampaignChoice(*row) for row in rows]
