"""One contact in full: its fields, labels, inbox history and messaging preference.

Lists and searches live in ``core.contact_search``; both return ``ContactView`` so every
entry point shows a contact the same way, phone masked unless the actor holds
``Permission.PHONE_UNMASKED``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.contact_search import ContactView, label_names
from core.errors import NotFound
from core.permissions import Actor, Permission, require
from core.phones import mask_phone
from sql.schema import Contact, ContactPreference, Conversation


@dataclass(frozen=True)
class ContactDetail:
    """A contact with its conversation history summed up."""

    contact: ContactView
    conversation_count: int
    message_count: int
    last_message_at: datetime | None
    average_rating: float | None
    # None when the actor's role may not see opt-outs.
    opted_out: bool | None


def get_contact(session: Session, actor: Actor, contact_id: uuid.UUID) -> ContactDetail:
    """The contact with this id as ``actor`` may see it, or NotFound."""
    require(actor, Permission.CONTACT_READ)
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"Contact {contact_id} does not exist.")
    labels = label_names(session, [contact_id]).get(contact_id, [])
    count, messages, last_message_at, rating = session.execute(
        select(
            func.count(Conversation.id),
            func.coalesce(func.sum(Conversation.message_count), 0),
            func.max(Conversation.last_message_at),
            func.avg(Conversation.rating),
        ).where(Conversation.contact_id == contact_id)
    ).one()
    opted_out = None
    if actor.can(Permission.OPTOUT_READ):
        preference = session.get(ContactPreference, contact_id)
        opted_out = bool(preference and preference.opted_out)
    unmasked = actor.can(Permission.PHONE_UNMASKED)
    view = ContactView(
        id=contact.id,
        name=contact.name,
        phone=contact.phone if unmasked else mask_phone(contact.phone),
        phone_masked=not unmasked,
        labels=tuple(labels),
        timezone=contact.timezone,
        custom_fields=dict(contact.custom_fields or {}),
        created_at=contact.created_at,
        updated_at=contact.updated_at,
    )
    return ContactDetail(
        contact=view,
        conversation_count=int(count),
        message_count=int(messages),
        last_message_at=last_message_at,
        average_rating=None if rating is None else round(float(rating), 2),
        opted_out=opted_out,
    )
