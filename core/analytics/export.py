"""Campaign exports: the report and the per-message tracking data as CSV, XLSX or Parquet.

    report    every metric (name, label, value, how it reads, definition) and the status
              breakdown, from ``report.campaign_report``: the numbers the page and API show.
              The XLSX adds sheets for the hourly and daily timeline, the reply-time
              buckets, and engagement per hour of the day and per weekday.
    tracking  one row per message: contact, phone (masked unless the actor sees numbers),
              status, every event time, seconds to deliver/read/reply, error and reply text

Tracking rows are streamed from the database in batches and written batch by batch
(Arrow's CSV and Parquet writers, xlsxwriter's constant-memory mode), so a 100,000-message
campaign never sits in memory at once. Times are UTC. An XLSX sheet holds at most
1,048,575 rows; larger campaigns are refused with a pointer to CSV or Parquet.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import xlsxwriter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.analytics import report as reports
from core.analytics.extract import UTC_TS, raw_select, schema_of, stream, to_batch
from core.analytics.messages import is_retryable
from core.analytics.metrics import METRICS, format_value
from core.analytics.warehouse import Warehouse
from core.campaigns.outbox import error_category
from core.campaigns.service import load
from core.errors import InvalidInput
from core.permissions import Actor, Permission, require
from core.phones import mask_phone
from core.settings import Settings
from sql.schema import CampaignMessage as M
from sql.schema import Contact

FORMATS = ("csv", "xlsx", "parquet")
KINDS = ("report", "tracking")
MEDIA_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
XLSX_MAX_ROWS = 1_048_575
BATCH_ROWS = 10_000

TRACKING_SCHEMA = pa.schema(
    [
        ("message_id", pa.string()),
        ("contact_id", pa.string()),
        ("contact_name", pa.string()),
        ("phone", pa.string()),
        ("status", pa.string()),
        ("attempts", pa.int64()),
        ("sent_at", UTC_TS),
        ("delivered_at", UTC_TS),
        ("read_at", UTC_TS),
        ("replied_at", UTC_TS),
        ("failed_at", UTC_TS),
        ("opted_out_at", UTC_TS),
        ("seconds_to_deliver", pa.float64()),
        ("seconds_to_read", pa.float64()),
        ("seconds_to_reply", pa.float64()),
        ("error_code", pa.int64()),
        ("error_category", pa.string()),
        ("retryable", pa.bool_()),
        ("error_title", pa.string()),
        ("error_message", pa.string()),
        ("reply_text", pa.string()),
    ]
)
REPORT_SCHEMA = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("campaign_name", pa.string()),
        ("metric", pa.string()),
        ("label", pa.string()),
        ("value", pa.float64()),
        ("display", pa.string()),
        ("definition", pa.string()),
        ("source", pa.string()),
        ("as_of", UTC_TS),
    ]
)


@dataclass(frozen=True)
class ExportFile:
    path: Path
    filename: str  # what the download should be called
    media_type: str
    rows: int


def _check(kind: str, fmt: str) -> None:
    if kind not in KINDS:
        raise InvalidInput(
            f"kind must be report or tracking, got {kind!r}",
            [{"field": "kind", "message": "must be report or tracking"}],
        )
    if fmt not in FORMATS:
        raise InvalidInput(
            f"format must be csv, xlsx or parquet, got {fmt!r}",
            [{"field": "format", "message": "must be csv, xlsx or parquet"}],
        )


def filename(name: str, kind: str, fmt: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "campaign"
    return f"{slug}-{kind}.{fmt}"


def export_campaign(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    kind: str,
    fmt: str,
    directory: Path,
    warehouse: Warehouse,
    settings: Settings,
) -> ExportFile:
    """Write the export to a new file in ``directory``; the caller sends and removes it."""
    require(actor, Permission.ANALYTICS_READ)
    _check(kind, fmt)
    campaign = load(session, campaign_id)
    path = Path(directory) / f"{uuid.uuid4().hex}.{fmt}"
    if kind == "tracking":
        rows = _write_tracking(session, actor, campaign_id, fmt, path)
    else:
        rows = _write_report(session, actor, campaign_id, fmt, path, warehouse, settings)
    return ExportFile(path, filename(campaign.name, kind, fmt), MEDIA_TYPES[fmt], rows)


# --- writers ----------------------------------------------------------------------------


class _Sink(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...
    def close(self) -> None: ...


class _XlsxSheet:
    """Arrow batches into one worksheet, row by row (xlsxwriter keeps one row in memory).

    Each column gets the typed xlsxwriter call for its Arrow type, chosen once: per-cell
    type dispatch would cost more than the writing itself.
    """

    def __init__(self, book: xlsxwriter.Workbook, name: str, schema: pa.Schema) -> None:
        self.sheet = book.add_worksheet(name)
        self.row = 0
        bold = book.add_format({"bold": True})
        moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        day = book.add_format({"num_format": "yyyy-mm-dd"})
        self.writers: list[Any] = []
        for column, field in enumerate(schema):
            self.sheet.write_string(0, column, field.name, bold)
            kind = field.type
            if pa.types.is_timestamp(kind):
                self.writers.append(lambda r, c, v, f=moment: self.sheet.write_datetime(r, c, v, f))
            elif pa.types.is_date(kind):
                self.writers.append(lambda r, c, v, f=day: self.sheet.write_datetime(r, c, v, f))
            elif pa.types.is_boolean(kind):
                self.writers.append(self.sheet.write_boolean)
            elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
                self.writers.append(self.sheet.write_number)
            else:
                self.writers.append(self.sheet.write_string)
            wide = pa.types.is_timestamp(kind) or field.name in ("error_message", "reply_text")
            self.sheet.set_column(column, column, 22 if wide else 14)
        self.sheet.freeze_panes(1, 0)

    def write(self, batch: pa.RecordBatch) -> None:
        columns = []
        for column in batch.columns:
            if pa.types.is_timestamp(column.type) and column.type.tz is not None:
                column = column.cast(pa.timestamp(column.type.unit))  # UTC wall clock
            columns.append(column.to_pylist())
        writers = self.writers
        for values in zip(*columns, strict=True):
            self.row += 1
            row = self.row
            for column, value in enumerate(values):
                if value is not None:
                    writers[column](row, column, value)

    def close(self) -> None:
        pass


def _workbook(path: Path) -> xlsxwriter.Workbook:
    return xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "remove_timezone": True,  # values are UTC; Excel has no zones
            "default_date_format": "yyyy-mm-dd hh:mm:ss",
            "strings_to_formulas": False,  # a reply "=HYPERLINK(...)" stays text
            "strings_to_urls": False,
        },
    )


def _sink(fmt: str, path: Path, schema: pa.Schema, sheet: str) -> tuple[_Sink, Any]:
    if fmt == "csv":
        writer = pa_csv.CSVWriter(str(path), schema)
        return writer, None
    if fmt == "parquet":
        return pq.ParquetWriter(str(path), schema, compression="zstd"), None
    book = _workbook(path)
    return _XlsxSheet(book, sheet, schema), book


def _write(
    fmt: str, path: Path, schema: pa.Schema, batches: Iterator[pa.RecordBatch], sheet: str
) -> int:
    sink, book = _sink(fmt, path, schema, sheet)
    rows = 0
    try:
        for batch in batches:
            sink.write(batch)
            rows += batch.num_rows
    finally:
        sink.close()
        if book is not None:
            book.close()
    return rows


# --- tracking ---------------------------------------------------------------------------


#: The columns read for tracking, in order (raw: converted column-wise by ``to_batch``).
TRACKING_SOURCE = (
    ("message_id", M.id, pa.string()), ("contact_id", M.contact_id, pa.string()),
    ("contact_name", Contact.name, pa.string()), ("phone", M.phone, pa.string()),
    ("status", M.status, pa.string()), ("attempts", M.attempts, pa.int64()),
    ("sent_at", M.sent_at, UTC_TS), ("delivered_at", M.delivered_at, UTC_TS),
    ("read_at", M.read_at, UTC_TS), ("replied_at", M.replied_at, UTC_TS),
    ("failed_at", M.failed_at, UTC_TS), ("opted_out_at", M.opted_out_at, UTC_TS),
    ("error_code", M.error_code, pa.int64()), ("recorded_category", M.error_category, pa.string()),
    ("error_title", M.error_title, pa.string()), ("error_message", M.error_message, pa.string()),
    ("reply_text", M.reply_text, pa.string()),
)  # fmt: skip


def _seconds(start: pa.Array, end: pa.Array) -> pa.Array:
    """``end - start`` in seconds; null when either is missing or ``end`` comes first."""
    micros = pc.subtract(end.cast(pa.int64()), start.cast(pa.int64()))
    seconds = pc.divide(micros.cast(pa.float64()), 1_000_000.0)
    return pc.if_else(pc.less(micros, 0), pa.scalar(None, pa.float64()), seconds)


def tracking_batches(
    session: Session, actor: Actor, campaign_id: uuid.UUID, batch_rows: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """The tracking rows of a campaign, streamed in batches (phones masked as allowed)."""
    unmasked = actor.can(Permission.PHONE_UNMASKED)
    source = schema_of(TRACKING_SOURCE)
    query = (
        raw_select(TRACKING_SOURCE)
        .outerjoin(Contact, Contact.id == M.contact_id)
        .where(M.campaign_id == campaign_id)
        .order_by(M.created_at, M.id)
    )
    for batch in stream(session.connection(), query, source, batch_rows):
        codes = batch.column("error_code").to_pylist()
        recorded = batch.column("recorded_category").to_pylist()
        statuses = batch.column("status").to_pylist()
        phones = batch.column("phone")
        derived = {
            "phone": phones if unmasked else pa.array([mask_phone(p) for p in phones.to_pylist()]),
            "seconds_to_deliver": _seconds(batch.column("sent_at"), batch.column("delivered_at")),
            "seconds_to_read": _seconds(batch.column("sent_at"), batch.column("read_at")),
            "seconds_to_reply": _seconds(batch.column("sent_at"), batch.column("replied_at")),
            "error_category": pa.array(
                [error_category(c, r) for c, r in zip(codes, recorded, strict=True)], pa.string()
            ),
            "retryable": pa.array(
                [s == "failed" and is_retryable(c, r)
                 for s, c, r in zip(statuses, codes, recorded, strict=True)], pa.bool_()
            ),
        }  # fmt: skip
        yield pa.RecordBatch.from_arrays(
            [
                derived[f.name] if f.name in derived else batch.column(f.name)
                for f in TRACKING_SCHEMA
            ],
            schema=TRACKING_SCHEMA,
        )


def _write_tracking(
    session: Session, actor: Actor, campaign_id: uuid.UUID, fmt: str, path: Path
) -> int:
    if fmt == "xlsx":
        count = session.scalar(
            select(func.count()).select_from(M).where(M.campaign_id == campaign_id)
        )
        if (count or 0) > XLSX_MAX_ROWS:
            raise InvalidInput(
                f"This campaign has {count:,} messages, more than an Excel sheet holds "
                f"({XLSX_MAX_ROWS:,}); export it as CSV or Parquet instead."
            )
    batches = tracking_batches(session, actor, campaign_id)
    return _write(fmt, path, TRACKING_SCHEMA, batches, sheet="Tracking")


# --- report -----------------------------------------------------------------------------


def report_rows(summary: reports.CampaignReport) -> list[tuple[Any, ...]]:
    """The summary table: one row per metric, then one per message status."""
    common = (str(summary.campaign_id), summary.name)
    tail = (summary.source.kind, summary.source.as_of)
    rows = []
    values = summary.metrics.as_dict()
    for metric in METRICS:
        value = values[metric.name]
        rows.append(
            (
                *common,
                metric.name,
                metric.label,
                None if value is None else float(value),
                format_value(metric, value),
                metric.definition,
                *tail,
            )
        )
    for status, count in summary.statuses.items():
        rows.append(
            (
                *common,
                f"status_{status}",
                f"Status: {status}",
                float(count),
                f"{count:,}",
                f"Messages whose status is {status} now.",
                *tail,
            )
        )
    return rows


def _write_report(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    fmt: str,
    path: Path,
    warehouse: Warehouse,
    settings: Settings,
) -> int:
    sources = {"warehouse": warehouse, "settings": settings}
    summary = reports.campaign_report(session, actor, campaign_id, **sources)
    batch = to_batch(report_rows(summary), REPORT_SCHEMA)
    if fmt != "xlsx":
        return _write(fmt, path, REPORT_SCHEMA, iter([batch]), sheet="Summary")
    book = _workbook(path)
    try:
        _XlsxSheet(book, "Summary", REPORT_SCHEMA).write(batch)
        hourly = reports.timeline(session, actor, campaign_id, "hourly", **sources)
        daily = reports.timeline(session, actor, campaign_id, "daily", **sources)
        engagement = reports.engagement(session, actor, campaign_id, **sources)
        latency = [b.__dict__ for b in summary.reply_latency]
        for name, rows in (
            (f"Hourly ({summary.timezone})"[:31], hourly.points),
            (f"Daily ({summary.timezone})"[:31], daily.points),
            ("Reply latency", latency),
            ("By hour of day", engagement.by_hour),
            ("By weekday", engagement.by_weekday),
        ):
            _table_sheet(book, name.replace("/", "-"), rows)
    finally:
        book.close()
    return batch.num_rows


def _table_sheet(book: xlsxwriter.Workbook, name: str, rows: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist(rows) if rows else pa.table({"note": ["no data yet"]})
    sheet = _XlsxSheet(book, name, table.schema)
    for batch in table.to_batches():
        sheet.write(batch)
