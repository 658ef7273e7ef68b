"""The warehouse's files: one writer builds in a working file, readers open a published copy.

    data/warehouse/siaran.duckdb       the published warehouse; analysts, the API and the app
                                       open it read-only. It is replaced whole, atomically.
    data/warehouse/work/build.duckdb   the writer's working file: staging tables, the refresh's
                                       bookkeeping and the same published tables, updated in place
    data/warehouse/work/writer.lock    one writer at a time, across processes

DuckDB lets one process write a file. A refresh writes only the working file; publishing
copies the published tables into a new file beside ``siaran.duckdb`` and renames it over
it (``os.replace``). A reader that opened the old file keeps reading a complete old state;
the next reader opens the new one; neither ever waits for the other.

Readers attach the file to a fresh in-memory database (``reader()``): ``duckdb.connect``
on the path itself would reuse an instance already open in this process and keep serving
the replaced file.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from filelock import FileLock, Timeout

import sql
from core.errors import Conflict
from core.settings import Settings

#: Bump when the working file's tables change shape: the next refresh rebuilds from scratch.
SCHEMA_VERSION = 1
SQL_DIR = Path(sql.__file__).resolve().parent / "warehouse"


@dataclass(frozen=True)
class Table:
    """A published table: its stable name, what one row is, and its natural order."""

    name: str
    description: str
    order_by: str


PUBLISHED: tuple[Table, ...] = (
    Table("campaigns", "One row per campaign: name, status, timezone, dates.", "created_at"),
    Table(
        "message_facts",
        "One row per campaign message: status, event times, attributed "
        "opt-out and seconds to reply (no phone numbers or texts).",
        "campaign_id, created_at",
    ),
    Table(
        "event_facts",
        "One row per status, inbound message or preference change in a stored "
        "webhook, matched to a campaign message where possible.",
        "received_at, event_id, item",
    ),
    Table(
        "campaign_metrics",
        "One row per campaign with messages: every metric of "
        "docs/metrics.md and the message-status breakdown.",
        "campaign_id",
    ),
    Table(
        "engagement_hourly",
        "Events per campaign and hour of the campaign's local time.",
        "campaign_id, hour",
    ),
    Table("engagement_daily", "Events per campaign and local calendar date.", "campaign_id, day"),
    Table(
        "reply_latency",
        "Replies per campaign and time-to-reply bucket (all buckets).",
        "campaign_id, bucket",
    ),
    Table(
        "warehouse_info", "One row: when this file was published and what it holds.", "refreshed_at"
    ),
)
TABLE_NAMES = tuple(table.name for table in PUBLISHED)


class WarehouseMissing(Exception):
    """No warehouse has been published yet at this path."""


def statements(name: str) -> list[str]:
    """The SQL statements of ``sql/warehouse/<name>.sql``."""
    text = (SQL_DIR / f"{name}.sql").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def query(name: str) -> str:
    """The single SQL query of ``sql/warehouse/<name>.sql``."""
    (only,) = statements(name)
    return only


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _utc(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    # TIMESTAMPTZ values reach Python and Polars in UTC, whatever the machine's zone.
    con.execute("SET TimeZone = 'UTC'")
    return con


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Warehouse:
    """The published warehouse at ``path`` and the working files beside it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()

    @classmethod
    def for_settings(cls, settings: Settings) -> Warehouse:
        return cls(settings.data_dir / "warehouse" / "siaran.duckdb")

    @property
    def work_dir(self) -> Path:
        return self.path.parent / "work"

    @property
    def working_path(self) -> Path:
        return self.work_dir / "build.duckdb"

    def exists(self) -> bool:
        return self.path.is_file()

    @contextlib.contextmanager
    def writer(self, timeout: float = 600) -> Iterator[duckdb.DuckDBPyConnection]:
        """The working file, opened read-write while holding the writer lock."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.work_dir / "writer.lock", timeout=timeout)
        try:
            lock.acquire()
        except Timeout:
            raise Conflict(
                f"Another warehouse refresh has held {lock.lock_file} for over {timeout:.0f} s."
            ) from None
        try:
            con = self._open_working()
            try:
                for statement in statements("schema"):
                    con.execute(statement)
                yield con
            finally:
                con.close()
        finally:
            lock.release()

    def _open_working(self) -> duckdb.DuckDBPyConnection:
        """The working file; one of an older schema version is dropped (rebuilt in full)."""
        con = _utc(duckdb.connect(str(self.working_path)))
        try:
            version = scalar(con, "SELECT value FROM warehouse_state WHERE name = 'schema_version'")
        except duckdb.CatalogException:
            return con  # a new file
        if version is None or version == str(SCHEMA_VERSION):
            return con
        con.close()
        for path in (
            self.working_path,
            self.working_path.with_name(self.working_path.name + ".wal"),
        ):
            path.unlink(missing_ok=True)
        return _utc(duckdb.connect(str(self.working_path)))

    def publish(self, con: duckdb.DuckDBPyConnection) -> Path:
        """Copy the published tables of the working file to ``path``, atomically.

        Called inside ``writer()``. The copy is written to a temporary file in the same
        folder, flushed to disk, then renamed over ``path``.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            leftover.unlink(missing_ok=True)  # a publish that crashed half-way
        temporary = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        try:
            con.execute(f"ATTACH {_quote(temporary)} AS published")
            try:
                for table in PUBLISHED:
                    con.execute(
                        f"CREATE TABLE published.{table.name} AS "
                        f"FROM main.{table.name} ORDER BY {table.order_by}"
                    )
                    comment = table.description.replace("'", "''")
                    con.execute(f"COMMENT ON TABLE published.{table.name} IS '{comment}'")
            finally:
                con.execute("DETACH published")
            _fsync(temporary)
            os.replace(temporary, self.path)
            with contextlib.suppress(OSError):  # not every filesystem syncs folders
                _fsync(self.path.parent)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return self.path

    @contextlib.contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The published warehouse, read-only, as it was when opened."""
        if not self.exists():
            raise WarehouseMissing(f"No warehouse has been published at {self.path} yet.")
        con = _utc(duckdb.connect(config={"threads": 2}))
        try:
            con.execute(f"ATTACH {_quote(self.path)} AS warehouse (READ_ONLY)")
            con.execute("USE warehouse")
            yield con
        finally:
            con.close()

    def info(self) -> WarehouseInfo | None:
        """What the published warehouse holds and when it was refreshed; None before the first."""
        try:
            with self.reader() as con:
                return read_info(con)
        except WarehouseMissing:
            return None


@dataclass(frozen=True)
class WarehouseInfo:
    refreshed_at: datetime
    loaded_at: datetime | None
    messages_through: datetime | None
    events_through: datetime | None
    attribution_hours: float
    schema_version: int
    campaigns: int
    messages: int
    events: int


def first(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> tuple[Any, ...] | None:
    """The first row of ``sql``, the result read to the end (DuckDB wants it finished)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> Any:
    row = first(con, sql, params)
    return None if row is None else row[0]


def read_info(con: duckdb.DuckDBPyConnection) -> WarehouseInfo | None:
    row = first(
        con,
        "SELECT refreshed_at, loaded_at, messages_through, events_through, attribution_hours, "
        "schema_version, campaigns, messages, events FROM warehouse_info",
    )
    return None if row is None else WarehouseInfo(*row)


# --- the refresh's own state (working file only) -----------------------------------------


def get_state(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT name, value FROM warehouse_state").fetchall())


def set_state(con: duckdb.DuckDBPyConnection, **values: object) -> None:
    for name, value in values.items():
        con.execute(
            "INSERT OR REPLACE INTO warehouse_state VALUES (?, ?)",
            [name, None if value is None else str(value)],
        )
