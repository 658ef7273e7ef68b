"""Rows the webhook tests need: an account, a template, a running campaign and its messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from core.bootstrap import Siaran
from core.campaign_counters import Counts, stored, truth
from sql.schema import Campaign, CampaignMessage, Contact, WhatsAppAccount, WhatsAppTemplate
from sql.types import utcnow
from tests.core.webhooks.payloads import APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN, WABA_ID

TEMPLATE_META_ID = "1234567890123456"


def account(session: Session, siaran: Siaran, *, app_secret: str = APP_SECRET) -> WhatsAppAccount:
    box = siaran.secrets
    row = WhatsAppAccount(
        name="Toko Maju",
        waba_id=WABA_ID,
        phone_number_id=PHONE_NUMBER_ID,
        display_phone_number="+62 811-0000-0000",
        quality_rating="GREEN",
        messaging_limit_tier="TIER_2K",
        api_base_url="http://127.0.0.1:9",
        access_token_encrypted=box.encrypt("test-access-token"),
        app_secret_encrypted=box.encrypt(app_secret),
        verify_token_encrypted=box.encrypt(VERIFY_TOKEN),
        is_sandbox=True,
    )
    session.add(row)
    session.flush()
    return row


def template(
    session: Session,
    owner: WhatsAppAccount,
    *,
    name: str = "promo_akhir_tahun",
    meta_id: str = TEMPLATE_META_ID,
) -> WhatsAppTemplate:
    row = WhatsAppTemplate(
        account_id=owner.id,
        meta_template_id=meta_id,
        name=name,
        language="id",
        category="MARKETING",
        status="APPROVED",
        components=[{"type": "BODY", "text": "Halo {{1}}"}],
        variables=[],
    )
    session.add(row)
    session.flush()
    return row


def contact(session: Session, phone: str, name: str = "Budi") -> Contact:
    row = Contact(name=name, phone=phone, custom_fields={})
    session.add(row)
    session.flush()
    return row


def campaign(
    session: Session,
    *,
    name: str = "Promo",
    status: str = "running",
    account_id: uuid.UUID | None = None,
    template_id: uuid.UUID | None = None,
    expires_at: datetime | None = None,
) -> Campaign:
    row = Campaign(
        name=name,
        status=status,
        message_type="template" if template_id else "text",
        whatsapp_account_id=account_id,
        whatsapp_template_id=template_id,
        expires_at=expires_at,
        started_at=utcnow() if status in ("running", "paused") else None,
    )
    session.add(row)
    session.flush()
    return row


def phone_of(index: int) -> str:
    return f"+62812{index:07d}"


def wamid_of(index: int) -> str:
    return f"wamid.TEST{index:08d}"


@dataclass
class Sent:
    """A campaign whose messages were sent (status ``sent``, wamid known) ``minutes_ago``."""

    campaign_id: uuid.UUID
    message_ids: list[uuid.UUID]
    wamids: list[str]
    phones: list[str]
    contact_ids: list[uuid.UUID]
    extra: dict[str, Any] = field(default_factory=dict)


def sent_campaign(
    session: Session,
    count: int,
    *,
    start: int = 0,
    status: str = "sent",
    campaign_row: Campaign | None = None,
    sent_at: datetime | None = None,
    with_wamid: bool = True,
) -> Sent:
    """``count`` messages in ``status`` (sent: counted in sent_count, like the sender does)."""
    owner = campaign_row or campaign(session)
    sent_at = sent_at or utcnow() - timedelta(minutes=5)
    result = Sent(owner.id, [], [], [], [])
    for i in range(start, start + count):
        person = contact(session, phone_of(i), f"Customer {i}")
        message = CampaignMessage(
            campaign_id=owner.id,
            contact_id=person.id,
            phone=person.phone,
            status=status,
            wamid=wamid_of(i) if with_wamid and status != "pending" else None,
            attempts=0 if status == "pending" else 1,
            sent_at=sent_at if status in ("sent", "delivered", "read") else None,
            rendered_content={},
        )
        session.add(message)
        session.flush()
        result.message_ids.append(message.id)
        result.wamids.append(wamid_of(i))
        result.phones.append(person.phone)
        result.contact_ids.append(person.id)
    owner.total_recipients = (owner.total_recipients or 0) + count
    if status in ("sent", "delivered", "read"):
        owner.sent_count = (owner.sent_count or 0) + count
    session.flush()
    return result


def message(session: Session, message_id: uuid.UUID) -> CampaignMessage:
    row = session.scalar(
        select(CampaignMessage)
        .where(CampaignMessage.id == message_id)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def counters(siaran: Siaran, campaign_id: uuid.UUID) -> tuple[Counts, Counts]:
    """(stored counters, counters recomputed from the messages)."""
    with siaran.uow.session() as session:
        return stored(session, campaign_id), truth(session, campaign_id)


class BrokenTable:
    """Takes a table away from the database for a while: a real failure, no mocks."""

    def __init__(self, engine: Engine, table: str) -> None:
        self.engine, self.table = engine, table

    def __enter__(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {self.table} RENAME TO {self.table}_away"))

    def __exit__(self, *_: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {self.table}_away RENAME TO {self.table}"))
