"""A campaign whose every metric was computed by hand, inserted into the operational database.

"Promo" (Asia/Jakarta, UTC+7) sends at T0 = Monday 2024-03-04 02:00 UTC, 09:00 local:

    key  status     sent  delivered  read     replied    failed   opt-out
    m1   read       T0    +1m        +5m      +10m (600 s)
    m2   read       T0    +2m        +1h
    m3   delivered  T0    +1m                 +2h (7200 s)
    m4   delivered  T0    +1m                                     contact +3h (inside 72 h)
    m5   delivered  T0    +1m                                     contact +100h (outside)
    m6   sent       T0
    m7   failed                                          T0 (131026 recipient, never sent)
    m8   failed     T0                                   +1m (131000 transient)
    m9   pending
    m10  read       T0    +1m        +23h     +26h (93600 s)      message +27h

"Other" (UTC) has one delivered message; "Draft" has none.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from core.db import UnitOfWork
from sql.schema import Campaign, CampaignMessage, Contact, ContactPreference, WebhookEvent

T0 = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)
M, H = timedelta(minutes=1), timedelta(hours=1)

EXPECTED_METRICS: dict[str, Any] = {
    "total_recipients": 10,
    "sent": 8,
    "delivered": 6,
    "read": 3,
    "failed": 2,
    "replied": 3,
    "opted_out": 2,
    "delivery_rate": 6 / 8,
    "open_rate": 3 / 6,
    "reply_rate": 3 / 6,
    "response_rate": 3 / 8,
    "failure_rate": 2 / 10,
    "opt_out_rate": 2 / 6,
    "avg_reply_seconds": (600 + 7200 + 93600) / 3,
    "median_reply_seconds": 7200.0,
}
EXPECTED_STATUSES = {
    "pending": 1, "sending": 0, "sent": 1, "delivered": 3, "read": 3, "failed": 2,
    "expired": 0, "cancelled": 0,
}  # fmt: skip
#: (local hour, sent, delivered, read, replied, failed, opted_out)
EXPECTED_HOURLY = [
    (datetime(2024, 3, 4, 9), 8, 6, 1, 1, 2, 0),
    (datetime(2024, 3, 4, 10), 0, 0, 1, 0, 0, 0),
    (datetime(2024, 3, 4, 11), 0, 0, 0, 1, 0, 0),
    (datetime(2024, 3, 4, 12), 0, 0, 0, 0, 0, 1),
    (datetime(2024, 3, 5, 8), 0, 0, 1, 0, 0, 0),
    (datetime(2024, 3, 5, 11), 0, 0, 0, 1, 0, 0),
    (datetime(2024, 3, 5, 12), 0, 0, 0, 0, 0, 1),
]
EXPECTED_DAILY = [
    (date(2024, 3, 4), 8, 6, 2, 2, 2, 1),
    (date(2024, 3, 5), 0, 0, 1, 1, 0, 1),
]
#: bucket label -> replies
EXPECTED_LATENCY = {"5-15 min": 1, "1-3 h": 1, "1-3 days": 1}


@dataclass
class Scenario:
    campaign_id: uuid.UUID
    other_id: uuid.UUID
    draft_id: uuid.UUID
    messages: dict[str, uuid.UUID]
    contacts: dict[str, uuid.UUID]


def _message(campaign: Campaign, contact: Contact, status: str, **values: Any) -> CampaignMessage:
    return CampaignMessage(
        campaign_id=campaign.id,
        contact_id=contact.id,
        phone=contact.phone,
        status=status,
        rendered_content={},
        **values,
    )


def build(uow: UnitOfWork) -> Scenario:
    """Insert the scenario; returns its ids."""
    with uow.begin() as session:
        promo = Campaign(
            name="Promo Ramadan", status="running", timezone="Asia/Jakarta", started_at=T0
        )
        other = Campaign(
            name="Other", status="completed", timezone="UTC", started_at=T0 - timedelta(days=1)
        )
        draft = Campaign(name="Draft", status="draft", timezone="Asia/Jakarta")
        session.add_all([promo, other, draft])
        session.flush()
        contacts = {
            f"m{i}": Contact(name=f"Customer {i}", phone=f"+62811000000{i:02d}")
            for i in range(1, 12)
        }
        session.add_all(contacts.values())
        session.flush()
        c = contacts
        rows = {
            "m1": _message(promo, c["m1"], "read", sent_at=T0, delivered_at=T0 + M,
                           read_at=T0 + 5 * M, replied_at=T0 + 10 * M, reply_text="Mau dong",
                           wamid="wamid.m1", reply_wamid="wamid.in1"),
            "m2": _message(promo, c["m2"], "read", sent_at=T0, delivered_at=T0 + 2 * M,
                           read_at=T0 + H, wamid="wamid.m2"),
            "m3": _message(promo, c["m3"], "delivered", sent_at=T0, delivered_at=T0 + M,
                           replied_at=T0 + 2 * H, reply_text="Berapa harganya?",
                           wamid="wamid.m3"),
            "m4": _message(promo, c["m4"], "delivered", sent_at=T0, delivered_at=T0 + M,
                           wamid="wamid.m4"),
            "m5": _message(promo, c["m5"], "delivered", sent_at=T0, delivered_at=T0 + M,
                           wamid="wamid.m5"),
            "m6": _message(promo, c["m6"], "sent", sent_at=T0, wamid="wamid.m6"),
            "m7": _message(promo, c["m7"], "failed", failed_at=T0, error_code=131026,
                           error_category="recipient", error_title="Message undeliverable",
                           attempts=1),
            "m8": _message(promo, c["m8"], "failed", sent_at=T0, failed_at=T0 + M,
                           error_code=131000, error_category="transient",
                           error_title="Something went wrong", wamid="wamid.m8", attempts=1),
            "m9": _message(promo, c["m9"], "pending"),
            "m10": _message(promo, c["m10"], "read", sent_at=T0, delivered_at=T0 + M,
                            read_at=T0 + 23 * H, replied_at=T0 + 26 * H, reply_text="STOP",
                            opted_out_at=T0 + 27 * H, wamid="wamid.m10"),
            "other": _message(other, c["m11"], "delivered", sent_at=T0, delivered_at=T0 + M,
                              wamid="wamid.o1"),
        }  # fmt: skip
        session.add_all(rows.values())
        session.add_all(
            [
                ContactPreference(contact_id=c["m4"].id, opted_out=True, opted_out_at=T0 + 3 * H),
                ContactPreference(contact_id=c["m5"].id, opted_out=True, opted_out_at=T0 + 100 * H),
            ]
        )
        session.flush()
        return Scenario(
            campaign_id=promo.id,
            other_id=other.id,
            draft_id=draft.id,
            messages={key: row.id for key, row in rows.items()},
            contacts={key: row.id for key, row in contacts.items()},
        )


def webhook(uow: UnitOfWork, payload: dict[str, Any], received_at: datetime) -> uuid.UUID:
    """Store a webhook body as the receiver would (raw, before processing)."""
    raw = json.dumps(payload)
    with uow.begin() as session:
        event = WebhookEvent(
            dedupe_key=uuid.uuid4().hex,
            received_at=received_at,
            field="messages",
            raw_body=raw,
            payload=payload,
            state="processed",
        )
        session.add(event)
        session.flush()
        return event.id


def envelope(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "4195", "changes": [{"field": "messages", "value": value}]}],
    }


def status(wamid: str, state: str, at: datetime, callback: uuid.UUID | None = None) -> dict:
    item: dict[str, Any] = {"id": wamid, "status": state, "timestamp": str(int(at.timestamp())),
                            "recipient_id": "6281100000001"}  # fmt: skip
    if callback is not None:
        item["biz_opaque_callback_data"] = str(callback)
    return item
