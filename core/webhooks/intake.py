"""Store first: every accepted webhook body lands in ``webhook_events`` before Meta hears 200.

A body is checked (size, signature, JSON object) at the door; ``read_body`` does the
parsing part. ``store_events`` inserts many bodies in one transaction (the receiver groups
concurrent POSTs into one commit), keyed by the SHA-256 of the raw bytes so a body Meta
delivers twice is stored once. Processing reads the stored row, never the request.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.upsert import insert
from core.webhooks.envelope import first_field, update_count
from sql.schema import WebhookEvent
from sql.types import utcnow

#: Meta sends at most 3 MB per POST; anything past this margin is not Meta.
MAX_BODY_BYTES = 4 * 1024 * 1024


class BodyRefused(ValueError):
    """The body is not a JSON object; ``str()`` says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Body:
    """One accepted POST body: its raw text, what it parses to and its dedupe key."""

    raw: str
    payload: dict[str, Any]
    dedupe_key: str
    updates: int  # how many updates it carries (statuses, messages, ...)


@dataclass(frozen=True, slots=True)
class Stored:
    """A body once stored: its event id and whether it was already there."""

    event_id: uuid.UUID
    body: Body
    duplicate: bool


def dedupe_key(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def read_body(raw: bytes) -> Body:
    """Parse a signed body; BodyRefused when it is not a UTF-8 JSON object."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyRefused(f"the body is not UTF-8 text (byte {exc.start})") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BodyRefused(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(payload, dict):
        raise BodyRefused(
            f"the body must be a JSON object (Meta's envelope), not a {type(payload).__name__}"
        )
    return Body(text, payload, dedupe_key(raw), update_count(payload))


def _storable(body: Body) -> dict[str, Any]:
    # PostgreSQL's JSONB refuses the NUL character; the raw text keeps it.
    return {} if "\\u0000" in body.raw else body.payload


def store_events(session: Session, bodies: list[Body], now: datetime | None = None) -> list[Stored]:
    """Insert ``bodies`` (duplicates of stored ones are not inserted); one result per body."""
    now = now or utcnow()
    table = WebhookEvent.__table__
    new_ids: dict[str, uuid.UUID] = {}
    rows = []
    for body in bodies:
        if body.dedupe_key in new_ids:
            continue
        event_id = uuid.uuid4()
        new_ids[body.dedupe_key] = event_id
        rows.append(
            {
                "id": event_id,
                "dedupe_key": body.dedupe_key,
                "received_at": now,
                "field": first_field(body.payload),
                "raw_body": body.raw,
                "payload": _storable(body),
                "state": "received",
                "attempts": 0,
            }
        )
    inserted: set[str] = set()
    if rows:
        statement = (
            insert(session, table)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(table.c.dedupe_key)
        )
        inserted = set(session.scalars(statement, rows))
    existing: dict[str, uuid.UUID] = {}
    missing = [key for key in new_ids if key not in inserted]
    if missing:
        rows_found = session.execute(
            select(table.c.dedupe_key, table.c.id).where(table.c.dedupe_key.in_(missing))
        )
        existing = {key: event_id for key, event_id in rows_found}
    results: list[Stored] = []
    first_seen: set[str] = set()
    for body in bodies:
        key = body.dedupe_key
        if key in inserted and key not in first_seen:
            first_seen.add(key)
            results.append(Stored(new_ids[key], body, duplicate=False))
        else:
            results.append(Stored(existing.get(key, new_ids[key]), body, duplicate=True))
    return results
