"""Loading the operational database into the warehouse's staging tables, incrementally.

Campaigns are copied whole (they are few); messages and contact preferences changed since
the last watermark minus OVERLAP, and webhook events received since then, are upserted.
OVERLAP re-reads recent rows because a transaction may commit an ``updated_at`` older than
the watermark; rows read again unchanged are harmless and mark nothing. Each campaign a
change touches is marked pending for ``message_facts``: the rebuild (``refresh``) redoes
exactly those. Everything happens in one transaction of the working file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine

from core.analytics import extract
from core.analytics.warehouse import SCHEMA_VERSION, get_state, scalar, set_state
from core.settings import Settings
from sql.types import utcnow

OVERLAP = timedelta(minutes=5)
FACTS = "message_facts"
STAGE_TABLES = ("stage_messages", "stage_preferences", "stage_events", "pending", "pending_events")
BUILT_TABLES = (
    "campaigns", "message_facts", "event_facts", "campaign_metrics", "engagement_hourly",
    "engagement_daily", "reply_latency", "warehouse_info",
)  # fmt: skip


@dataclass
class LoadReport:
    full: bool
    campaigns: int = 0
    messages: int = 0
    preferences: int = 0
    events: int = 0
    marked: int = 0  # campaigns whose rows will be rebuilt


def time_of(state: dict[str, str], name: str) -> datetime | None:
    value = state.get(name)
    return datetime.fromisoformat(value) if value else None


def _latest(current: datetime | None, column: pa.ChunkedArray | pa.Array) -> datetime | None:
    value = pc.max(column).as_py()
    if value is None:
        return current
    return value if current is None or value > current else current


def _since(through: datetime | None, full: bool) -> datetime | None:
    return None if full or through is None else through - OVERLAP


def load_sources(
    con: duckdb.DuckDBPyConnection,
    engine: Engine,
    settings: Settings,
    *,
    full: bool = False,
    now: datetime | None = None,
) -> LoadReport:
    """Copy what changed in the operational database into staging; mark what to rebuild."""
    now = now or utcnow()
    state = get_state(con)
    full = full or state.get("schema_version") != str(SCHEMA_VERSION)
    window = float(settings.reply_attribution_hours)
    report = LoadReport(full=full)
    con.execute("BEGIN")
    try:
        if full:
            for table in (*STAGE_TABLES, *BUILT_TABLES):
                con.execute(f"DELETE FROM {table}")
        with engine.connect() as conn:
            report.campaigns = _load_campaigns(con, conn)
            messages_through, report.messages = _load_messages(
                con, conn, _since(time_of(state, "messages_through"), full), full
            )
            preferences_through, report.preferences = _load_preferences(
                con, conn, _since(time_of(state, "preferences_through"), full), full
            )
            events_through, report.events = _load_events(
                con, conn, _since(time_of(state, "events_through"), full)
            )
        if full or state.get("attribution_hours") != str(window):
            # A new attribution window changes every campaign's opt-outs.
            con.execute("INSERT INTO pending SELECT ?, campaign_id FROM campaigns", [FACTS])
        set_state(
            con,
            schema_version=SCHEMA_VERSION,
            attribution_hours=window,
            loaded_at=now.isoformat(),
            messages_through=_iso(messages_through or time_of(state, "messages_through")),
            preferences_through=_iso(preferences_through or time_of(state, "preferences_through")),
            events_through=_iso(events_through or time_of(state, "events_through")),
            full_load_at=now.isoformat() if full else state.get("full_load_at"),
        )
        report.marked = scalar(
            con, "SELECT count(DISTINCT campaign_id) FROM pending WHERE step = ?", [FACTS]
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _load_campaigns(con: duckdb.DuckDBPyConnection, conn: Connection) -> int:
    table = extract.campaigns_table(conn)
    con.register("loaded_campaigns", table)
    try:
        # New, deleted or moved to another timezone: their facts and rollups change.
        con.execute(
            """
            INSERT INTO pending
            SELECT ?, coalesce(n.campaign_id::UUID, o.campaign_id)
            FROM loaded_campaigns AS n FULL JOIN campaigns AS o ON o.campaign_id = n.campaign_id
            WHERE o.campaign_id IS NULL OR n.campaign_id IS NULL OR o.timezone <> n.timezone
            """,
            [FACTS],
        )
        deleted = "SELECT campaign_id FROM campaigns ANTI JOIN loaded_campaigns USING (campaign_id)"
        con.execute(f"DELETE FROM stage_messages WHERE campaign_id IN ({deleted})")
        con.execute(
            "UPDATE event_facts SET message_id = NULL, campaign_id = NULL, matched_by = NULL "
            f"WHERE campaign_id IN ({deleted})"
        )
        con.execute("DELETE FROM campaigns")
        con.execute("INSERT INTO campaigns BY NAME SELECT * FROM loaded_campaigns")
    finally:
        con.unregister("loaded_campaigns")
    return table.num_rows


def _load_messages(
    con: duckdb.DuckDBPyConnection, conn: Connection, since: datetime | None, full: bool
) -> tuple[datetime | None, int]:
    through: datetime | None = None
    count = 0
    schema = extract.schema_of(extract.MESSAGE_FIELDS)
    for batch in extract.stream(conn, extract.messages_query(since=since), schema):
        con.register("batch", pa.Table.from_batches([batch]))
        try:
            # Rows the overlap reads again unchanged mark nothing.
            con.execute(
                "INSERT INTO pending SELECT DISTINCT ?, b.campaign_id::UUID FROM batch b "
                "LEFT JOIN stage_messages s ON s.message_id = b.message_id::UUID "
                "WHERE s.message_id IS NULL OR s.updated_at IS DISTINCT FROM b.updated_at "
                "OR s.status IS DISTINCT FROM b.status",
                [FACTS],
            )
            if not full:
                con.execute(
                    "DELETE FROM stage_messages WHERE message_id IN "
                    "(SELECT message_id::UUID FROM batch)"
                )
            con.execute("INSERT INTO stage_messages BY NAME SELECT * FROM batch")
        finally:
            con.unregister("batch")
        through = _latest(through, batch.column("updated_at"))
        count += batch.num_rows
    return through, count


def _load_preferences(
    con: duckdb.DuckDBPyConnection, conn: Connection, since: datetime | None, full: bool
) -> tuple[datetime | None, int]:
    through: datetime | None = None
    count = 0
    schema = extract.schema_of(extract.PREFERENCE_FIELDS)
    for batch in extract.stream(conn, extract.preferences_query(since=since), schema):
        con.register("batch", pa.Table.from_batches([batch]))
        try:
            if not full:  # a full load marks every campaign anyway
                con.execute(
                    "INSERT INTO pending SELECT DISTINCT ?, m.campaign_id FROM stage_messages m "
                    "SEMI JOIN (SELECT b.contact_id::UUID AS contact_id FROM batch b "
                    "  LEFT JOIN stage_preferences s ON s.contact_id = b.contact_id::UUID "
                    "  WHERE s.opted_out_at IS DISTINCT FROM b.opted_out_at) AS c "
                    "ON m.contact_id = c.contact_id",
                    [FACTS],
                )
            con.execute(
                "DELETE FROM stage_preferences WHERE contact_id IN "
                "(SELECT contact_id::UUID FROM batch)"
            )
            con.execute("INSERT INTO stage_preferences BY NAME SELECT * FROM batch")
        finally:
            con.unregister("batch")
        through = _latest(through, batch.column("updated_at"))
        count += batch.num_rows
    return through, count


def _load_events(
    con: duckdb.DuckDBPyConnection, conn: Connection, since: datetime | None
) -> tuple[datetime | None, int]:
    through: datetime | None = None
    count = 0
    for batch, latest in extract.event_batches(conn, since=since):
        if latest is not None and (through is None or latest > through):
            through = latest
        if not batch.num_rows:
            continue
        con.register("batch", pa.Table.from_batches([batch]))
        try:
            # Only the overlap can hold events stored already; the rest are new.
            known = "SELECT event_id FROM stage_events"
            params: list[object] = []
            if since is not None:
                known += " WHERE received_at >= ?"
                params.append(since)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE new_events AS SELECT b.* FROM batch b "
                f"ANTI JOIN ({known}) s ON s.event_id = b.event_id::UUID",
                params,
            )
            con.execute("INSERT INTO stage_events BY NAME SELECT * FROM new_events")
            con.execute("INSERT INTO pending_events SELECT DISTINCT event_id FROM new_events")
            count += scalar(con, "SELECT count(*) FROM new_events")
            con.execute("DROP TABLE new_events")
        finally:
            con.unregister("batch")
    return through, count
