"""Reading the operational database (SQLite or PostgreSQL) into Arrow, in batches.

The warehouse loads through here: messages and preferences changed since a watermark, all
campaigns, and stored webhook events parsed by ``core.webhooks.envelope`` into one row per
update. Rows are streamed (``yield_per``) so a large load never sits in memory at once.
Phone numbers and message texts are not read: the warehouse does not hold them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Select, Uuid, func, select, type_coerce
from sqlalchemy.types import NullType

from core.analytics.rollups import safe_zone
from core.webhooks.envelope import read_envelope
from sql.schema import Campaign, CampaignMessage, ContactPreference, WebhookEvent
from sql.types import UTCDateTime

BATCH_ROWS = 50_000
UTC_TS = pa.timestamp("us", tz="UTC")
M = CampaignMessage

#: Marks a string field holding UUIDs (SQLite returns them as 32 hex digits).
UUID_FIELD = {b"uuid": b"1"}


def uuid_field(name: str) -> pa.Field:
    return pa.field(name, pa.string(), metadata=UUID_FIELD)


MESSAGE_FIELDS: tuple[tuple[str, Any, pa.DataType], ...] = (
    ("message_id", M.id, pa.string()),
    ("campaign_id", M.campaign_id, pa.string()),
    ("contact_id", M.contact_id, pa.string()),
    ("status", M.status, pa.string()),
    ("attempts", M.attempts, pa.int64()),
    ("error_code", M.error_code, pa.int64()),
    ("error_category", M.error_category, pa.string()),
    ("wamid", M.wamid, pa.string()),
    ("reply_wamid", M.reply_wamid, pa.string()),
    ("sent_at", M.sent_at, UTC_TS),
    ("delivered_at", M.delivered_at, UTC_TS),
    ("read_at", M.read_at, UTC_TS),
    ("failed_at", M.failed_at, UTC_TS),
    ("replied_at", M.replied_at, UTC_TS),
    ("opted_out_at", M.opted_out_at, UTC_TS),
    ("created_at", M.created_at, UTC_TS),
    ("updated_at", M.updated_at, UTC_TS),
)
CAMPAIGN_FIELDS: tuple[tuple[str, Any, pa.DataType], ...] = (
    ("campaign_id", Campaign.id, pa.string()),
    ("name", Campaign.name, pa.string()),
    ("status", Campaign.status, pa.string()),
    ("message_type", Campaign.message_type, pa.string()),
    ("timezone", Campaign.timezone, pa.string()),
    ("created_at", Campaign.created_at, UTC_TS),
    ("started_at", Campaign.started_at, UTC_TS),
    ("completed_at", Campaign.completed_at, UTC_TS),
    ("updated_at", Campaign.updated_at, UTC_TS),
)
PREFERENCE_FIELDS: tuple[tuple[str, Any, pa.DataType], ...] = (
    ("contact_id", ContactPreference.contact_id, pa.string()),
    ("opted_out", ContactPreference.opted_out, pa.bool_()),
    ("opted_out_at", ContactPreference.opted_out_at, UTC_TS),
    ("updated_at", ContactPreference.updated_at, UTC_TS),
)
EVENT_SCHEMA = pa.schema(
    [
        uuid_field("event_id"),
        ("item", pa.int32()),
        ("received_at", UTC_TS),
        ("field", pa.string()),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("message_type", pa.string()),
        ("occurred_at", UTC_TS),
        ("wamid", pa.string()),
        uuid_field("message_id"),
        ("context_wamid", pa.string()),
        ("error_code", pa.int64()),
    ]
)


def schema_of(fields: Sequence[tuple[str, Any, pa.DataType]]) -> pa.Schema:
    return pa.schema(
        [
            uuid_field(name) if isinstance(column.type, Uuid) else pa.field(name, kind)
            for name, column, kind in fields
        ]
    )


def raw(column: Any) -> Any:
    """``column`` without SQLAlchemy's per-value result processing, for timestamps and UUIDs.

    Converting each value in Python dominates a large read; ``to_batch`` converts the
    driver's own values (UTC text on SQLite, datetimes on PostgreSQL) column-wise instead.
    """
    if isinstance(column.type, UTCDateTime | Uuid):
        return type_coerce(column, NullType()).label(column.key)
    return column


def raw_select(fields: Sequence[tuple[str, Any, pa.DataType]]) -> Select[Any]:
    return select(*(raw(column) for _, column, _ in fields))


def _uuid_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 32:  # SQLite keeps UUIDs as 32 hex digits
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return str(value)


def _column(values: Sequence[Any], field: pa.Field) -> pa.Array:
    kind = field.type
    if field.metadata and field.metadata.get(b"uuid"):
        return pa.array([_uuid_text(v) for v in values], type=kind)
    if kind == pa.string():
        return pa.array([v if v is None or isinstance(v, str) else str(v) for v in values], kind)
    if pa.types.is_timestamp(kind) and any(isinstance(v, str) for v in values):
        # SQLite's UTC text, parsed by Arrow in one pass.
        return pa.array(values, pa.string()).cast(pa.timestamp(kind.unit)).cast(kind)
    return pa.array(values, type=kind)


def to_batch(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.RecordBatch:
    """Rows (tuples in ``schema``'s column order) as one Arrow record batch."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = [_column(values, field) for values, field in zip(columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def stream(
    conn: Connection,
    query: Select[Any],
    schema: pa.Schema,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """Run ``query`` and yield its rows as record batches of at most ``batch_rows``."""
    result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(query)
    for rows in result.partitions():
        yield to_batch(rows, schema)


def messages_query(
    *, since: datetime | None = None, campaign_id: uuid.UUID | None = None
) -> Select[Any]:
    """Campaign messages changed at or after ``since`` (all when None), of one campaign or all."""
    query = raw_select(MESSAGE_FIELDS)
    if since is not None:
        query = query.where(M.updated_at >= since)
    if campaign_id is not None:
        query = query.where(M.campaign_id == campaign_id)
    return query


def campaigns_table(conn: Connection, campaign_id: uuid.UUID | None = None) -> pa.Table:
    """Every campaign (or one), its timezone checked (unknown zones read as UTC)."""
    query = select(*(column for _, column, _ in CAMPAIGN_FIELDS))
    if campaign_id is not None:
        query = query.where(Campaign.id == campaign_id)
    zone = [name for name, _, _ in CAMPAIGN_FIELDS].index("timezone")
    rows = [
        tuple(safe_zone(v) if i == zone else v for i, v in enumerate(row))
        for row in conn.execute(query)
    ]
    return pa.Table.from_batches([to_batch(rows, schema_of(CAMPAIGN_FIELDS))])


def preferences_query(
    *, since: datetime | None = None, campaign_id: uuid.UUID | None = None
) -> Select[Any]:
    """Contact preferences changed at or after ``since``, or of one campaign's recipients."""
    query = raw_select(PREFERENCE_FIELDS)
    if since is not None:
        query = query.where(ContactPreference.updated_at >= since)
    if campaign_id is not None:
        recipients = select(M.contact_id).where(M.campaign_id == campaign_id)
        query = query.where(ContactPreference.contact_id.in_(recipients))
    return query


def event_batches(
    conn: Connection, *, since: datetime | None, batch_rows: int = 5_000
) -> Iterator[tuple[pa.RecordBatch, datetime | None]]:
    """Webhook events received at or after ``since``: one row per update they carry, and the
    latest ``received_at`` of each batch of stored bodies (some carry nothing we keep)."""
    query = select(
        WebhookEvent.id,
        WebhookEvent.received_at,
        WebhookEvent.field,
        WebhookEvent.payload,
        WebhookEvent.raw_body,
    )
    if since is not None:
        query = query.where(WebhookEvent.received_at >= since)
    result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(query)
    for rows in result.partitions():
        parsed = [item for row in rows for item in event_rows(*row)]
        yield to_batch(parsed, EVENT_SCHEMA), max(row.received_at for row in rows)


def event_rows(
    event_id: uuid.UUID,
    received_at: datetime,
    field: str | None,
    payload: dict[str, Any] | None,
    raw_body: str | None,
) -> list[tuple[Any, ...]]:
    """The warehouse rows of one stored webhook body (statuses, messages, preferences)."""
    if not payload and raw_body:
        try:  # bodies PostgreSQL could not store as JSONB keep only their raw text
            payload = json.loads(raw_body)
        except ValueError:
            payload = None
    if not isinstance(payload, dict):
        return []
    updates = read_envelope(payload)
    rows: list[tuple[Any, ...]] = []

    def add(
        kind: str,
        status: str | None,
        message_type: str | None,
        at: datetime,
        wamid: str | None,
        message_id: uuid.UUID | None,
        context: str | None,
        error_code: int | None,
    ) -> None:
        rows.append(
            (
                event_id,
                len(rows),
                received_at,
                field,
                kind,
                status,
                message_type,
                at,
                wamid,
                message_id,
                context,
                error_code,
            )
        )

    for status in updates.statuses:
        add(
            "status",
            status.status,
            None,
            status.at,
            status.wamid,
            status.message_id,
            None,
            _error_code(status.errors),
        )
    for message in updates.messages:
        add(
            "message",
            None,
            message.kind,
            message.at,
            message.wamid,
            None,
            message.context_wamid,
            None,
        )
    for preference in updates.preferences:
        add(
            "preference",
            "stop" if preference.stop else "resume",
            None,
            preference.at,
            None,
            None,
            None,
            None,
        )
    return rows


def _error_code(errors: Sequence[dict[str, Any]]) -> int | None:
    for error in errors:
        try:
            return int(error.get("code"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
    return None


def change_marks(conn: Connection) -> dict[str, str | None]:
    """What moved in the operational database: latest change times and the campaign count.

    The warehouse sensor compares these with its cursor; all are read from indexes or
    small tables, so polling is cheap.
    """

    def latest(column: Any) -> str | None:
        value = conn.execute(select(func.max(column))).scalar()
        return None if value is None else value.isoformat()

    return {
        "messages": latest(CampaignMessage.updated_at),
        "events": latest(WebhookEvent.received_at),
        "campaigns": latest(Campaign.updated_at),
        "preferences": latest(ContactPreference.updated_at),
        "campaign_count": str(conn.execute(select(func.count()).select_from(Campaign)).scalar()),
    }
