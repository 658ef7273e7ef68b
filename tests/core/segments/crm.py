"""In-memory CRM datasets for segment tests: built in Python, loaded in bulk, read by the reference.

The same ``Dataset`` feeds the database (through ``load``) and the Polars reference
evaluator, so the two are compared on exactly the same rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert

from sql.schema import (
    Contact,
    ContactFeature,
    ContactFeatureRefresh,
    ContactLabel,
    ContactPreference,
    Conversation,
    Label,
    LabelBit,
    Segment,
    SegmentMember,
    SegmentMembershipChange,
)

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


def only(condition: dict[str, Any]) -> dict[str, Any]:
    """Criteria of a single condition."""
    return {"type": "all", "conditions": [condition]}


@dataclass
class Dataset:
    contacts: list[dict[str, Any]] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)
    contact_labels: list[dict[str, Any]] = field(default_factory=list)
    conversations: list[dict[str, Any]] = field(default_factory=list)
    preferences: list[dict[str, Any]] = field(default_factory=list)

    def label_id(self, name: str) -> uuid.UUID:
        for row in self.labels:
            if row["name"] == name:
                return row["id"]
        row = {"id": uuid.uuid4(), "name": name, "created_at": NOW}
        self.labels.append(row)
        return row["id"]

    def add_contact(
        self,
        name: str,
        *,
        labels: tuple[str, ...] | list[str] = (),
        fields: dict[str, Any] | None = None,
        conversations: Sequence[tuple[str, int | None, float]] = (),
        opted_out: bool | None = None,
        contact_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Add a contact with conversations given as (status, rating, days ago)."""
        cid = contact_id or uuid.uuid4()
        phone = f"+62812{len(self.contacts):07d}"
        self.contacts.append(
            {
                "id": cid,
                "name": name,
                "phone": phone,
                "custom_fields": fields or {},
                "created_at": NOW - timedelta(days=400),
                "updated_at": NOW - timedelta(days=400),
            }
        )
        for label in labels:
            self.contact_labels.append(
                {"contact_id": cid, "label_id": self.label_id(label), "created_at": NOW}
            )
        for status, rating, days_ago in conversations:
            self.add_conversation(cid, status, rating, NOW - timedelta(days=days_ago))
        if opted_out is not None:
            self.preferences.append({"contact_id": cid, "opted_out": opted_out, "updated_at": NOW})
        return cid

    def add_conversation(
        self,
        contact_id: uuid.UUID,
        status: str,
        rating: int | None,
        last_message_at: datetime,
        *,
        created_at: datetime | None = None,
        conversation_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        row = {
            "id": conversation_id or uuid.uuid4(),
            "contact_id": contact_id,
            "status": status,
            "rating": rating,
            "message_count": 3,
            "created_at": created_at or last_message_at - timedelta(hours=2),
            "last_message_at": last_message_at,
        }
        self.conversations.append(row)
        return row["id"]

    def ids(self, *names: str) -> set[uuid.UUID]:
        wanted = set(names)
        return {c["id"] for c in self.contacts if c["name"] in wanted}

    def names(self, ids: set[uuid.UUID]) -> set[str]:
        return {c["name"] for c in self.contacts if c["id"] in ids}


CLEARED = (
    SegmentMembershipChange,
    SegmentMember,
    Segment,
    ContactFeatureRefresh,
    ContactFeature,
    ContactPreference,
    ContactLabel,
    Conversation,
    LabelBit,
    Label,
    Contact,
)


def clear(connection: Connection) -> None:
    for model in CLEARED:
        connection.execute(delete(model.__table__))


def load(engine: Engine, data: Dataset, *, replace: bool = True) -> None:
    """Write ``data`` to the database (emptying the CRM and segment tables first)."""
    with engine.begin() as connection:
        if replace:
            clear(connection)
        for model, rows in (
            (Contact, data.contacts),
            (Label, data.labels),
            (ContactLabel, data.contact_labels),
            (Conversation, data.conversations),
            (ContactPreference, data.preferences),
        ):
            if rows:
                connection.execute(insert(model.__table__), rows)
