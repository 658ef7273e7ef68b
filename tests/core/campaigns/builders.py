"""Rows campaign tests need, inserted directly: contacts, segments, accounts, templates."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.security import SecretBox
from sql.schema import (
    Campaign,
    CampaignMessage,
    Contact,
    ContactPreference,
    Segment,
    SegmentMember,
    WhatsAppAccount,
    WhatsAppTemplate,
)
from sql.types import utcnow

#: A Meta-shaped marketing template: image header, two positional body variables, a URL button.
PROMO_COMPONENTS: list[dict[str, Any]] = [
    {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["https://x.test/h.jpg"]}},
    {
        "type": "BODY",
        "text": "Halo {{1}}, diskon {{2}} untuk pelanggan di kota Anda!",
        "example": {"body_text": [["Budi", "20%"]]},
    },
    {"type": "FOOTER", "text": "Balas STOP untuk berhenti"},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "QUICK_REPLY", "text": "Stop promosi"},
            {
                "type": "URL",
                "text": "Belanja",
                "url": "https://toko.test/p/{{1}}",
                "example": ["abc"],
            },
        ],
    },
]


def contact(
    session: Session,
    name: str,
    phone: str,
    *,
    created_at: datetime | None = None,
    **fields: Any,
) -> Contact:
    row = Contact(name=name, phone=phone, custom_fields=fields, created_at=created_at or utcnow())
    session.add(row)
    session.flush()
    return row


def static_segment(session: Session, name: str, members: Iterable[Contact]) -> Segment:
    segment = Segment(name=name, criteria={"type": "all", "conditions": []}, kind="static")
    session.add(segment)
    session.flush()
    now = utcnow()
    session.add_all(
        SegmentMember(segment_id=segment.id, contact_id=c.id, snapshot_at=now) for c in members
    )
    session.flush()
    return segment


def dynamic_segment(session: Session, name: str, criteria: dict[str, Any]) -> Segment:
    segment = Segment(name=name, criteria=criteria, kind="dynamic")
    session.add(segment)
    session.flush()
    return segment


def account(
    session: Session,
    secrets: SecretBox,
    *,
    base_url: str = "https://graph.facebook.com",
    tier: str | None = "TIER_2K",
    throughput: int = 80,
) -> WhatsAppAccount:
    row = WhatsAppAccount(
        name="Toko Maju",
        waba_id="4195",
        phone_number_id="1065",
        display_phone_number="+62 811-0000-0000",
        messaging_limit_tier=tier,
        throughput_per_second=throughput,
        api_base_url=base_url,
        api_version="v25.0",
        access_token_encrypted=secrets.encrypt("secret-token-123"),
        app_secret_encrypted=secrets.encrypt("app-secret-123"),
        verify_token_encrypted=secrets.encrypt("verify-token-123"),
        is_active=True,
    )
    session.add(row)
    session.flush()
    return row


def template(
    session: Session,
    owner: WhatsAppAccount | None,
    *,
    name: str = "promo_akhir_tahun",
    status: str = "APPROVED",
    components: list[dict[str, Any]] | None = None,
    parameter_format: str = "POSITIONAL",
) -> WhatsAppTemplate:
    row = WhatsAppTemplate(
        account_id=owner.id if owner else None,
        name=name,
        language="id",
        category="MARKETING",
        status=status,
        parameter_format=parameter_format,
        components=components if components is not None else PROMO_COMPONENTS,
        variables=[],
    )
    session.add(row)
    session.flush()
    return row


PROMO_VARIABLES = {
    "header.media": {"source": "fixed", "value": "https://toko.test/promo.jpg"},
    "body.1": {"source": "field", "value": "name", "fallback": "Kak"},
    "body.2": {"source": "fixed", "value": "20%"},
    "button.1.1": {"source": "field", "value": "voucher"},
}


def opt_out(session: Session, who: Contact, at: datetime | None = None) -> None:
    session.add(
        ContactPreference(
            contact_id=who.id, opted_out=True, opted_out_at=at or utcnow(), opt_out_reason="STOP"
        )
    )
    session.flush()


def broadcast_at(session: Session, who: Contact, at: datetime) -> None:
    preference = session.get(ContactPreference, who.id)
    if preference is None:
        preference = ContactPreference(contact_id=who.id, opted_out=False)
        session.add(preference)
    preference.last_broadcast_at = at
    session.flush()


def campaign(session: Session, name: str = "Promo", **values: Any) -> Campaign:
    values.setdefault("status", "draft")
    values.setdefault("message_type", "text")
    row = Campaign(name=name, **values)
    session.add(row)
    session.flush()
    return row


def message(
    session: Session,
    of: Campaign,
    who: Contact,
    *,
    status: str = "pending",
    sent_ago: timedelta | None = None,
    **values: Any,
) -> CampaignMessage:
    now = utcnow()
    row = CampaignMessage(
        campaign_id=of.id,
        contact_id=who.id,
        phone=who.phone,
        status=status,
        rendered_content={},
        sent_at=now - sent_ago if sent_ago is not None else None,
        **values,
    )
    session.add(row)
    session.flush()
    return row


def count_messages(session: Session, campaign_id: uuid.UUID, status: str | None = None) -> int:
    query = select(func.count()).select_from(CampaignMessage)
    query = query.where(CampaignMessage.campaign_id == campaign_id)
    if status is not None:
        query = query.where(CampaignMessage.status == status)
    return session.scalar(query) or 0
