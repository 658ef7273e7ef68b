"""Seeing a campaign's message before it goes out: a preview, and a test send to one number.

The preview renders the message for a given contact, else the segment's first member,
else a stand-in customer, exactly as the outbox would (payload included). A test send
posts that message through the Cloud API to one number the owner gives; it is audited
and carries a ``test-`` callback id so status webhooks never count it for the campaign.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.campaigns.audience import member_ids
from core.campaigns.personalize import SAMPLE_RECIPIENT, Personalizer, Recipient
from core.campaigns.readiness import campaign_account
from core.campaigns.service import load
from core.errors import InvalidInput, NotFound
from core.permissions import Actor, Permission, require
from core.phones import mask_phone, normalize_phone
from core.security import SecretBox
from core.whatsapp import ClientFactory, client_for, run_async
from sender.cloud_api import CloudApiClient
from sender.errors import CloudApiError
from sender.models import SendResult
from sql.schema import Campaign, Contact, Segment, WhatsAppTemplate
from sql.types import utcnow

TEST_CALLBACK_PREFIX = "test-"


@dataclass(frozen=True)
class Preview:
    """The message as one recipient would get it."""

    text: str  # what they read; a missing value shows as its {placeholder}
    payload: dict[str, Any] | None  # the Cloud API body; None when it cannot be built yet
    missing: list[str]  # variables without a value or fallback for this recipient
    problem: str | None  # why the payload cannot be built, when it cannot
    contact_id: uuid.UUID | None
    contact_name: str | None
    phone: str  # masked unless the actor may see phone numbers
    sample: bool  # True when no real contact was at hand


def _recipient(contact: Contact) -> Recipient:
    return Recipient(contact.id, contact.name, contact.phone, contact.custom_fields or {})


def _first_member(session: Session, campaign: Campaign, now: datetime) -> Contact | None:
    segment = session.get(Segment, campaign.segment_id) if campaign.segment_id else None
    if segment is None:
        return None
    members = member_ids(segment, now).subquery()
    return session.scalar(
        select(Contact)
        .join(members, members.c.contact_id == Contact.id)
        .order_by(Contact.created_at, Contact.id)
        .limit(1)
    )


def _contact(session: Session, contact_id: uuid.UUID) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"Contact {contact_id} does not exist.")
    return contact


def _personalizer(session: Session, campaign: Campaign) -> Personalizer:
    template = None
    if campaign.message_type == "template" and campaign.whatsapp_template_id is not None:
        template = session.get(WhatsAppTemplate, campaign.whatsapp_template_id)
    return Personalizer.for_campaign(campaign, template)


def preview_campaign(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    contact_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> Preview:
    """The campaign's message rendered for ``contact_id``, else a sample recipient."""
    require(actor, Permission.CAMPAIGN_READ)
    campaign = load(session, campaign_id)
    contact = (
        _contact(session, contact_id)
        if contact_id is not None
        else _first_member(session, campaign, now or utcnow())
    )
    recipient = _recipient(contact) if contact is not None else SAMPLE_RECIPIENT
    personalizer = _personalizer(session, campaign)
    missing = [slot.label for slot in personalizer.missing(recipient)]
    text, payload, problem = "", None, None
    try:
        text = personalizer.text(recipient)
        payload = personalizer.payload(recipient, callback=f"{TEST_CALLBACK_PREFIX}preview")
    except InvalidInput as exc:
        problem = exc.message
    unmasked = actor.can(Permission.PHONE_UNMASKED)
    if payload is not None and not unmasked:
        payload = {**payload, "to": mask_phone(recipient.phone).lstrip("+")}
    return Preview(
        text=text,
        payload=payload,
        missing=missing,
        problem=problem,
        contact_id=recipient.contact_id,
        contact_name=recipient.name,
        phone=recipient.phone if unmasked else mask_phone(recipient.phone),
        sample=contact is None,
    )


async def _send(client: CloudApiClient, payload: dict[str, Any]) -> SendResult:
    async with client:
        return await client.send(payload)


def send_test_message(
    session: Session,
    actor: Actor,
    secrets: SecretBox,
    campaign_id: uuid.UUID,
    phone: str,
    *,
    contact_id: uuid.UUID | None = None,
    region: str = "ID",
    client_factory: ClientFactory = client_for,
    now: datetime | None = None,
) -> SendResult:
    """Send the campaign's message to ``phone`` now, personalized like a real recipient.

    The values come from ``contact_id``, else the contact with that number, else the
    segment's first member; missing values are refused rather than sent as placeholders.
    """
    require(actor, Permission.CAMPAIGN_WRITE)
    campaign = load(session, campaign_id)
    number = normalize_phone(phone, region)
    if contact_id is not None:
        contact: Contact | None = _contact(session, contact_id)
    else:
        contact = session.scalar(select(Contact).where(Contact.phone == number))
        contact = contact or _first_member(session, campaign, now or utcnow())
    base = _recipient(contact) if contact is not None else SAMPLE_RECIPIENT
    recipient = Recipient(base.contact_id, base.name, number, base.custom_fields)
    account = campaign_account(session, campaign.whatsapp_account_id)
    if account is None:
        raise InvalidInput("No WhatsApp account is connected; connect one in WhatsApp account.")
    payload = _personalizer(session, campaign).payload(
        recipient, callback=f"{TEST_CALLBACK_PREFIX}{uuid.uuid4()}"
    )
    try:
        result = run_async(_send(client_factory(account, secrets), payload))
    except CloudApiError as exc:
        raise InvalidInput(f"WhatsApp refused the test message: {exc}") from None
    audit.record(
        session, actor, "campaign.test_send", "campaign", campaign.id,
        {"name": campaign.name, "to": mask_phone(number), "wamid": result.wamid},
    )  # fmt: skip
    return result
