"""Searching the CRM's contacts and labels; phone numbers masked for roles that need not see them.

Search matches the contact's name; it matches phone numbers only for actors allowed to see
them in full, so a masked number cannot be recovered by searching digit by digit.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.pages import Page
from core.permissions import Actor, Permission, require
from core.phones import mask_phone
from sql.schema import Contact, ContactLabel, Label

MAX_PAGE_SIZE = 500
MAX_QUERY_LENGTH = 200


@dataclass(frozen=True)
class LabelSummary:
    name: str
    color: str | None
    contact_count: int


@dataclass(frozen=True)
class ContactView:
    """A contact as this actor may see it: ``phone`` is masked unless ``phone_masked`` is False."""

    id: uuid.UUID
    name: str
    phone: str
    phone_masked: bool
    labels: tuple[str, ...]
    timezone: str | None
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ContactPage(Page[ContactView]):
    """One page of a contact search, with the filters it applied."""

    filters: dict[str, Any] = field(default_factory=dict)


def list_labels(session: Session, actor: Actor) -> list[LabelSummary]:
    """Every label with how many contacts carry it, by name."""
    require(actor, Permission.CONTACT_READ)
    counts = (
        select(ContactLabel.label_id, func.count().label("n"))
        .group_by(ContactLabel.label_id)
        .subquery()
    )
    rows = session.execute(
        select(Label.name, Label.color, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.label_id == Label.id)
        .order_by(Label.name)
    )
    return [LabelSummary(name, color, count) for name, color, count in rows]


def search_contacts(
    session: Session,
    actor: Actor,
    *,
    query: str = "",
    labels: Sequence[str] = (),
    match_all_labels: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> ContactPage:
    """Contacts matching ``query`` and carrying any (or all) of ``labels``, newest change first."""
    require(actor, Permission.CONTACT_READ)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must not be negative, got {offset}")
    query = (query or "").strip()
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"search text must be at most {MAX_QUERY_LENGTH} characters")
    wanted = sorted({name.strip() for name in labels if name and name.strip()})

    conditions: list[ColumnElement[bool]] = []
    if query:
        conditions.append(_text_match(actor, query))
    if wanted:
        conditions.append(_label_match(session, wanted, match_all_labels))

    total = session.scalar(select(func.count()).select_from(Contact).where(*conditions)) or 0
    contacts = list(
        session.scalars(
            select(Contact)
            .where(*conditions)
            .order_by(Contact.updated_at.desc(), Contact.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    names = label_names(session, [c.id for c in contacts])
    unmasked = actor.can(Permission.PHONE_UNMASKED)
    views = [
        ContactView(
            id=c.id,
            name=c.name,
            phone=c.phone if unmasked else mask_phone(c.phone),
            phone_masked=not unmasked,
            labels=tuple(names.get(c.id, ())),
            timezone=c.timezone,
            custom_fields=dict(c.custom_fields or {}),
            created_at=c.created_at,
            updated_at=c.updated_at,
        )
        for c in contacts
    ]
    filters = {"query": query, "labels": wanted, "match_all_labels": match_all_labels}
    return ContactPage(views, total, limit, offset, filters)


def _text_match(actor: Actor, query: str) -> ColumnElement[bool]:
    by_name = Contact.name.icontains(query, autoescape=True)
    digits = re.sub(r"\D", "", query)
    if not digits or not actor.can(Permission.PHONE_UNMASKED):
        return by_name
    # People type Indonesian numbers in the local form 0812...; stored numbers are +62812...
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    return by_name | Contact.phone.contains(digits, autoescape=True)


def _label_match(session: Session, names: list[str], match_all: bool) -> ColumnElement[bool]:
    ids = dict(session.execute(select(Label.name, Label.id).where(Label.name.in_(names))).all())
    unknown = [name for name in names if name not in ids]
    if unknown:
        raise InvalidInput(f"Unknown label: {', '.join(unknown)}")
    carriers = select(ContactLabel.contact_id).where(ContactLabel.label_id.in_(ids.values()))
    if match_all and len(ids) > 1:
        carriers = carriers.group_by(ContactLabel.contact_id).having(func.count() == len(ids))
    return Contact.id.in_(carriers)


def label_names(session: Session, contact_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Each contact's label names, alphabetically; contacts without labels are absent."""
    if not contact_ids:
        return {}
    rows = session.execute(
        select(ContactLabel.contact_id, Label.name)
        .join(Label, Label.id == ContactLabel.label_id)
        .where(ContactLabel.contact_id.in_(contact_ids))
        .order_by(Label.name)
    )
    names: dict[uuid.UUID, list[str]] = {}
    for contact_id, name in rows:
        names.setdefault(contact_id, []).append(name)
    return names
