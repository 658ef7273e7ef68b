"""Bulk-loads generated CRM rows into SQLite or PostgreSQL inside the caller's transaction.

Both loaders write exactly what the ORM would (``Uuid`` as 32 hex digits on SQLite and
native uuid on PostgreSQL, ``UTCDateTime`` as naive UTC text on SQLite and timestamptz on
PostgreSQL, JSON as text / jsonb) and follow each engine's advice for bulk loads: the
secondary indexes (and on PostgreSQL the foreign keys) of the loaded tables are dropped
first and rebuilt in one pass at the end. It all happens in one transaction, so a failed
or interrupted load leaves the database as it was.
"""

from __future__ import annotations

import io
from typing import Any

import polars as pl
from sqlalchemy import Connection, Index, Table, func, select, text
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

from sql.demo_generate import DemoChunk
from sql.schema import Contact, ContactLabel, Conversation, Label, metadata

CRM_TABLES: tuple[Table, ...] = (
    Conversation.__table__,  # type: ignore[arg-type]
    ContactLabel.__table__,  # type: ignore[arg-type]
    Contact.__table__,  # type: ignore[arg-type]
    Label.__table__,  # type: ignore[arg-type]
)
_LOADED: tuple[Table, ...] = CRM_TABLES[:3]
_TIMESTAMPS = ("created_at", "updated_at", "last_message_at")


def secondary_indexes() -> list[Index]:
    """The non-unique indexes of the loaded tables: cheaper to build once than to maintain."""
    return [ix for table in _LOADED for ix in sorted(table.indexes, key=_name) if not ix.unique]


def _name(index: Index) -> str:
    return str(index.name)


def row_counts(conn: Connection) -> dict[str, int]:
    """Rows in each CRM table (profiles excluded: they are users, not customers)."""
    return {
        table.name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
        for table in CRM_TABLES
    }


def _dependents(conn: Connection) -> tuple[list[Table], bool]:
    """Tables outside the CRM set that point (directly or not) at CRM rows, and whether
    they are all empty (then nothing refers to the rows a reset deletes)."""
    closed = set(CRM_TABLES)
    found: list[Table] = []
    grew = True
    while grew:
        grew = False
        for table in metadata.sorted_tables:
            if table not in closed and any(fk.column.table in closed for fk in table.foreign_keys):
                closed.add(table)
                found.append(table)
                grew = True
    empty = all(conn.scalar(select(1).select_from(t).limit(1)) is None for t in found)
    return found, empty


class BulkLoader:
    """Writes demo chunks into the CRM tables over ``conn`` (already in a transaction)."""

    timestamp_format = "%Y-%m-%d %H:%M:%S.%6f"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.raw: Any = conn.connection.driver_connection

    @staticmethod
    def for_connection(conn: Connection) -> BulkLoader:
        if conn.dialect.name == "sqlite":
            return SQLiteLoader(conn)
        if conn.dialect.name == "postgresql":
            return PostgresLoader(conn)
        raise NotImplementedError(f"no bulk loader for {conn.dialect.name}")

    def prepare(self) -> None:
        """Connection settings for the load, before the transaction begins."""

    def lock(self) -> None:
        """Take the write lock before anything is read, so two seeders cannot interleave."""

    def restore(self) -> None:
        """Undo ``prepare``, whether the load committed or not."""

    def empty(self) -> dict[str, int]:
        """Delete every CRM row (not profiles) and return how many rows each table had."""
        counts = row_counts(self.conn)
        # Children first, so deleting a contact finds nothing of ours left to cascade into;
        # rows of other tables that point at contacts (segments, outbox) follow their FKs.
        for table in CRM_TABLES:
            self.conn.execute(table.delete())
        return counts

    def drop_indexes(self) -> None:
        for index in secondary_indexes():
            self.conn.execute(DropIndex(index, if_exists=True))

    def create_indexes(self) -> None:
        for index in secondary_indexes():
            self.conn.execute(CreateIndex(index, if_not_exists=True))

    def write(self, chunk: DemoChunk) -> None:
        for table, frame in (
            ("contacts", chunk.contacts),
            ("contact_labels", chunk.contact_labels),
            ("conversations", chunk.conversations),
        ):
            if frame.height:
                self._insert(table, self._formatted(frame))

    def finish(self) -> None:
        """Work after the rows are in and before commit."""
        self.create_indexes()

    def after_commit(self) -> None:
        """Work after commit: fresh planner statistics for the reloaded tables."""

    def _formatted(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            pl.col(c).dt.strftime(self.timestamp_format) for c in _TIMESTAMPS if c in frame.columns
        )

    def _insert(self, table: str, frame: pl.DataFrame) -> None:
        raise NotImplementedError


class SQLiteLoader(BulkLoader):
    """executemany in one big transaction with a large page cache."""

    cache_kib = 256 * 1024

    def prepare(self) -> None:
        self._cache_size = self.raw.execute("PRAGMA cache_size").fetchone()[0]
        self.raw.execute(f"PRAGMA cache_size = -{self.cache_kib}")

    def lock(self) -> None:
        # pysqlite would open a deferred transaction at the first INSERT; take the write
        # lock now so the emptiness check and the load see the same database.
        if not self.raw.in_transaction:
            self.raw.execute("BEGIN IMMEDIATE")

    def restore(self) -> None:
        self.raw.execute(f"PRAGMA cache_size = {self._cache_size}")

    def _insert(self, table: str, frame: pl.DataFrame) -> None:
        columns = ", ".join(frame.columns)
        marks = ", ".join("?" * frame.width)
        self.raw.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", frame.iter_rows())

    def after_commit(self) -> None:
        # The load went through the write-ahead log; give its disk space back.
        self.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.raw.execute("PRAGMA analysis_limit = 1000")
        self.raw.execute("PRAGMA optimize")


class PostgresLoader(BulkLoader):
    """COPY in CSV form; foreign keys of the loaded tables re-added (and checked) at the end."""

    timestamp_format = "%Y-%m-%d %H:%M:%S.%6f+00"

    def lock(self) -> None:
        names = ", ".join(table.name for table in CRM_TABLES)
        self.conn.execute(text(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE"))
        self.conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))

    def empty(self) -> dict[str, int]:
        counts = row_counts(self.conn)
        dependents, empty = _dependents(self.conn)
        if empty:
            # Nothing outside the CRM refers to these rows, so TRUNCATE (which must name the
            # empty referring tables too) equals a cascading DELETE without visiting a
            # million rows one by one.
            names = ", ".join(table.name for table in (*CRM_TABLES, *dependents))
            self.conn.execute(text(f"TRUNCATE {names}"))
        else:
            super().empty()
        return counts

    def drop_indexes(self) -> None:
        for table in _LOADED:
            for constraint in table.foreign_key_constraints:
                self.conn.execute(DropConstraint(constraint, if_exists=True))
        super().drop_indexes()

    def finish(self) -> None:
        super().finish()
        for table in _LOADED:
            for constraint in table.foreign_key_constraints:
                self.conn.execute(AddConstraint(constraint))

    def _insert(self, table: str, frame: pl.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False)
        columns = ", ".join(frame.columns)
        with (
            self.raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy,
        ):
            copy.write(buffer.getbuffer())

    def after_commit(self) -> None:
        for table in CRM_TABLES:
            self.conn.execute(text(f"ANALYZE {table.name}"))
        self.conn.commit()
