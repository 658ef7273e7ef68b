"""Small builders of CRM and campaign rows for tests that need real data in the database."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sql.schema import Campaign, Contact, ContactLabel, Conversation, Label, Segment
from sql.types import utcnow


def label(session: Session, name: str) -> Label:
    """The label called ``name``, created if missing."""
    existing = session.scalar(select(Label).where(Label.name == name))
    if existing is not None:
        return existing
    created = Label(name=name)
    session.add(created)
    session.flush()
    return created


def contact(
    session: Session,
    name: str,
    phone: str,
    *,
    labels: Iterable[str] = (),
    custom_fields: dict[str, Any] | None = None,
    updated_at: datetime | None = None,
) -> Contact:
    created = Contact(
        name=name,
        phone=phone,
        custom_fields=custom_fields or {},
        updated_at=updated_at or utcnow(),
    )
    session.add(created)
    session.flush()
    for name_ in labels:
        session.add(ContactLabel(contact_id=created.id, label_id=label(session, name_).id))
    session.flush()
    return created


def conversation(
    session: Session, owner: Contact, *, status: str = "resolved", days_ago: int = 1
) -> Conversation:
    created = Conversation(
        contact_id=owner.id,
        status=status,
        message_count=3,
        last_message_at=utcnow() - timedelta(days=days_ago),
    )
    session.add(created)
    session.flush()
    return created


def segment(session: Session, name: str) -> Segment:
    created = Segment(name=name, criteria={}, kind="dynamic")
    session.add(created)
    session.flush()
    return created


def campaign(session: Session, name: str, *, status: str = "draft") -> Campaign:
    created = Campaign(name=name, status=status, message_type="text")
    session.add(created)
    session.flush()
    return created
