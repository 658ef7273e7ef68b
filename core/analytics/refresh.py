"""Refreshing the warehouse: load what changed, rebuild what it touched, publish.

    load_sources         (``load``) changes in the operational database -> staging, and the
                         campaigns they touch marked pending
    build_message_facts  message_facts of the marked campaigns (Polars, ``rollups``)
    build_event_facts    new (and recently unmatched) webhook events matched to messages
    build_rollup         campaign_metrics, engagement_hourly, engagement_daily, reply_latency
                         of the campaigns whose facts changed
    publish              finishes any pending step, writes warehouse_info, publishes the file
    refresh              all of it in order (the CLI and tests; Dagster runs them as assets)

Everything is incremental by campaign: a refresh costs what changed, not the whole history.
The pending marks live in the working file and are cleared in the same transaction that
rebuilds their rows, so a crashed step is simply redone by the next refresh. Large
rebuilds go in chunks of campaigns (CHUNK_MESSAGES) to bound memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb
import polars as pl
import pyarrow as pa
from sqlalchemy import Engine

from core.analytics import rollups
from core.analytics.load import FACTS, LoadReport, load_sources, time_of
from core.analytics.warehouse import SCHEMA_VERSION, Warehouse, get_state, query, scalar
from core.settings import Settings
from sql.types import utcnow

log = logging.getLogger("siaran.analytics")

ROLLUP_STEPS = ("campaign_metrics", "engagement_hourly", "engagement_daily", "reply_latency")
#: Messages per rebuild chunk: bounds memory on a full rebuild of a large history.
CHUNK_MESSAGES = 1_000_000
#: Unmatched webhook events are matched again for this long (their message may come later).
REMATCH_WINDOW = timedelta(days=1)
#: How much longer than REMATCH_WINDOW staged webhook rows are kept.
STAGED = timedelta(hours=1)


@dataclass
class RefreshReport:
    load: LoadReport
    rebuilt: dict[str, int] = field(default_factory=dict)  # table -> campaigns (or events)
    published_at: datetime | None = None


# --- rebuilding -------------------------------------------------------------------------


def _chunks(con: duckdb.DuckDBPyConnection, step: str, rows_table: str) -> list[list[str]]:
    """The campaigns pending for ``step``, grouped so each group has ≲ CHUNK_MESSAGES rows."""
    sizes = con.execute(
        f"""
        SELECT p.campaign_id::VARCHAR, count(r.campaign_id)
        FROM (SELECT DISTINCT campaign_id FROM pending WHERE step = ?) AS p
        LEFT JOIN {rows_table} AS r ON r.campaign_id = p.campaign_id
        GROUP BY ALL ORDER BY 1
        """,
        [step],
    ).fetchall()
    chunks: list[list[str]] = []
    rows = 0
    for campaign_id, count in sizes:
        if not chunks or (chunks[-1] and rows + count > CHUNK_MESSAGES):
            chunks.append([])
            rows = 0
        chunks[-1].append(campaign_id)
        rows += count
    return chunks


def _replace_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    step: str,
    ids: list[str],
    frame: pl.DataFrame,
    then_mark: tuple[str, ...] = (),
) -> None:
    """Swap the rows of campaigns ``ids`` in ``table`` for ``frame``; clear their pending mark."""
    con.register("chunk_ids", pa.table({"campaign_id": pa.array(ids, pa.string())}))
    con.register("chunk_rows", frame)
    try:
        con.execute("BEGIN")
        try:
            in_chunk = "campaign_id IN (SELECT campaign_id::UUID FROM chunk_ids)"
            con.execute(f"DELETE FROM {table} WHERE {in_chunk}")
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM chunk_rows")
            con.execute(f"DELETE FROM pending WHERE step = ? AND {in_chunk}", [step])
            for downstream in then_mark:
                con.execute(
                    "INSERT INTO pending SELECT ?, campaign_id::UUID FROM chunk_ids", [downstream]
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister("chunk_ids")
        con.unregister("chunk_rows")


def _ids_param(ids: list[str]) -> pa.Table:
    return pa.table({"campaign_id": pa.array(ids, pa.string())})


def build_message_facts(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """Rebuild message_facts for the marked campaigns; returns how many campaigns."""
    done = 0
    for ids in _chunks(con, FACTS, "stage_messages"):
        con.register("todo_campaigns", _ids_param(ids))
        try:
            in_ids = "campaign_id IN (SELECT campaign_id::UUID FROM todo_campaigns)"
            messages = con.sql(f"SELECT * FROM stage_messages WHERE {in_ids}").pl()
            campaigns = con.sql(f"SELECT campaign_id, timezone FROM campaigns WHERE {in_ids}").pl()
            preferences = con.sql(
                "SELECT contact_id, opted_out_at FROM stage_preferences "
                "WHERE opted_out_at IS NOT NULL AND contact_id IN "
                f"(SELECT contact_id FROM stage_messages WHERE {in_ids})"
            ).pl()
        finally:
            con.unregister("todo_campaigns")
        facts = rollups.message_facts(
            messages.lazy(),
            campaigns.lazy(),
            preferences.lazy(),
            attribution_hours=settings.reply_attribution_hours,
        ).collect()
        _replace_rows(con, FACTS, FACTS, ids, facts, then_mark=ROLLUP_STEPS)
        done += len(ids)
    return done


def build_rollup(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """Rebuild rollup table ``name`` for the campaigns whose facts changed."""
    make = rollups.TABLES[name]
    done = 0
    for ids in _chunks(con, name, FACTS):
        con.register("todo_campaigns", _ids_param(ids))
        try:
            in_todo = "campaign_id IN (SELECT campaign_id::UUID FROM todo_campaigns)"
            facts = con.sql(f"SELECT * FROM {FACTS} WHERE {in_todo}").pl()
        finally:
            con.unregister("todo_campaigns")
        zones = facts.get_column("timezone").unique().to_list()
        _replace_rows(con, name, name, ids, make(facts.lazy(), zones).collect())
        done += len(ids)
    return done


def build_event_facts(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> int:
    """Match new webhook events (and recently unmatched ones) to campaign messages."""
    now = now or utcnow()
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE todo_events AS
        SELECT event_id FROM pending_events
        UNION
        SELECT event_id FROM event_facts
        WHERE campaign_id IS NULL AND kind IN ('status', 'message') AND received_at >= ?
        """,
        [now - REMATCH_WINDOW],
    )
    try:
        count = scalar(con, "SELECT count(*) FROM todo_events")
        if not count:
            return 0
        con.execute("BEGIN")
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE matched AS {query('event_facts')}")
            con.execute(
                "DELETE FROM event_facts WHERE event_id IN (SELECT event_id FROM todo_events)"
            )
            con.execute("INSERT INTO event_facts BY NAME SELECT * FROM matched")
            con.execute("DELETE FROM pending_events")
            con.execute("DROP TABLE matched")
            # Staged rows serve matching (REMATCH_WINDOW) and the loader's overlap only.
            con.execute(
                "DELETE FROM stage_events WHERE received_at < ?", [now - REMATCH_WINDOW - STAGED]
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return count
    finally:
        con.execute("DROP TABLE IF EXISTS todo_events")


def pending_steps(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Campaigns (or events) waiting per step; empty when the working file is consistent."""
    waiting = dict(
        con.execute(
            "SELECT step, count(DISTINCT campaign_id) FROM pending GROUP BY step"
        ).fetchall()
    )
    events = scalar(con, "SELECT count(*) FROM pending_events")
    if events:
        waiting["event_facts"] = events
    return waiting


def finish_pending(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, int]:
    """Run every step that still has work, in dependency order."""
    rebuilt = {FACTS: build_message_facts(con, settings), "event_facts": build_event_facts(con)}
    for name in ROLLUP_STEPS:
        rebuilt[name] = build_rollup(con, name)
    return rebuilt


def publish(
    con: duckdb.DuckDBPyConnection,
    warehouse: Warehouse,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> datetime:
    """Publish the working file's tables as ``warehouse.path``; never a half-built state.

    Steps still pending (a partial run, a crash) are finished first, so the published
    tables always agree with each other.
    """
    now = now or utcnow()
    finish_pending(con, settings)
    state = get_state(con)
    campaigns = scalar(con, "SELECT count(*) FROM campaigns")
    messages = scalar(con, f"SELECT count(*) FROM {FACTS}")
    events = scalar(con, "SELECT count(*) FROM event_facts")
    con.execute("BEGIN")
    con.execute("DELETE FROM warehouse_info")
    con.execute(
        "INSERT INTO warehouse_info VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            now,
            time_of(state, "loaded_at"),
            time_of(state, "messages_through"),
            time_of(state, "events_through"),
            settings.reply_attribution_hours,
            SCHEMA_VERSION,
            campaigns,
            messages,
            events,
        ],
    )
    con.execute("COMMIT")
    warehouse.publish(con)
    return now


def refresh(
    warehouse: Warehouse, engine: Engine, settings: Settings, *, full: bool = False
) -> RefreshReport:
    """Load, rebuild and publish in one go (what the Dagster job does asset by asset)."""
    with warehouse.writer() as con:
        report = RefreshReport(load_sources(con, engine, settings, full=full))
        report.rebuilt = finish_pending(con, settings)
        report.published_at = publish(con, warehouse, settings)
    log.info("Warehouse refreshed: %s", report)
    return report
