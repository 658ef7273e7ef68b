"""Inbound messages: replies to campaigns, and the keywords that change a customer's consent.

Attribution: a message whose ``context.id`` is a campaign message's wamid answers that
message. One without context answers the latest campaign message sent to that number
within ``settings.reply_attribution_hours`` before it (not failed ones). A message with a
context Siaran did not send (an agent's message in the inbox) answers no campaign.
Meta's notices (system, unsupported, reactions) are no replies.

The first reply is what counts: its time, text and wamid are recorded once per campaign
message (an earlier reply delivered late replaces a later one, without counting twice),
and ``replied_count`` moves only when a message gets its first reply.

Keywords (``core.keywords``) in what the customer typed or tapped become consent changes
(``core.optouts``); an opt-out answering a campaign message is counted for that campaign.
``user_preferences`` updates (Meta's "stop/resume marketing messages") become consent
changes with source ``meta_marketing_opt_out``; a resume only reopens an opt-out that
Meta's stop caused, not one the customer asked for with a keyword.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.campaign_counters import Deltas
from core.keywords import Consent, match
from core.optouts import (
    SOURCE_BUTTON,
    SOURCE_KEYWORD,
    SOURCE_META,
    SOURCES_META_STOPPED,
    ConsentChange,
    phone_from_wa_id,
)
from core.settings import Settings
from core.webhooks.envelope import NOT_REPLIES, InboundMessage, PreferenceUpdate
from sql.schema import CampaignMessage

MAX_REPLY_TEXT = 4096
#: Meta's clock and ours may differ a little: a reply may look a few seconds older.
CLOCK_SLACK = timedelta(minutes=2)
ATTRIBUTABLE = ("sent", "delivered", "read")


@dataclass
class InboundReport:
    replies: int = 0  # messages that were a campaign message's first reply
    unattributed: int = 0  # inbound messages that answer no campaign message
    consent: list[ConsentChange] = field(default_factory=list)


def apply_messages(
    session: Session,
    messages: list[InboundMessage],
    deltas: Deltas,
    settings: Settings,
) -> InboundReport:
    report = InboundReport()
    if not messages:
        return report
    window = timedelta(hours=settings.reply_attribution_hours)
    contexts = _by_wamid(session, {m.context_wamid for m in messages if m.context_wamid})
    for message in messages:
        phone = phone_from_wa_id(message.sender)
        if message.context_wamid is not None:
            target = contexts.get(message.context_wamid)
        elif phone is not None:
            target = _latest_sent(session, phone, message.at, window)
        else:
            target = None
        is_reply = message.kind not in NOT_REPLIES
        if target is not None and is_reply:
            if _record_reply(session, target, message, deltas):
                report.replies += 1
        elif is_reply:
            report.unattributed += 1
        consent = _keyword(message, settings)
        if consent is not None and phone is not None:
            report.consent.append(
                ConsentChange(
                    phone=phone,
                    opt_out=consent is Consent.OPT_OUT,
                    at=message.at,
                    source=SOURCE_BUTTON
                    if message.kind in ("button", "interactive")
                    else SOURCE_KEYWORD,
                    reason=f'Sent "{(message.text or "")[:200]}" on WhatsApp',
                    contact_id=target[2] if target is not None else None,
                    profile_name=message.profile_name,
                    message_id=target[0] if target is not None else None,
                )
            )
    return report


def apply_preferences(
    session: Session, preferences: list[PreferenceUpdate], settings: Settings
) -> list[ConsentChange]:
    """Meta's marketing stop/resume as consent changes (a stop is attributed like a reply)."""
    window = timedelta(hours=settings.reply_attribution_hours)
    changes = []
    for item in preferences:
        phone = phone_from_wa_id(item.sender)
        if phone is None:
            continue
        target = _latest_sent(session, phone, item.at, window) if item.stop else None
        changes.append(
            ConsentChange(
                phone=phone,
                opt_out=item.stop,
                at=item.at,
                source=SOURCE_META,
                reason=item.detail[:200],
                contact_id=target[2] if target is not None else None,
                profile_name=item.profile_name,
                message_id=target[0] if target is not None else None,
                only_from_sources=None if item.stop else SOURCES_META_STOPPED,
            )
        )
    return changes


_Target = tuple[uuid.UUID, uuid.UUID, uuid.UUID | None]  # message id, campaign id, contact id


def _by_wamid(session: Session, wamids: set[str]) -> dict[str, _Target]:
    if not wamids:
        return {}
    m = CampaignMessage
    rows = session.execute(
        select(m.wamid, m.id, m.campaign_id, m.contact_id).where(m.wamid.in_(wamids))
    )
    return {row.wamid: (row.id, row.campaign_id, row.contact_id) for row in rows}


def _latest_sent(session: Session, phone: str, at: datetime, window: timedelta) -> _Target | None:
    m = CampaignMessage
    row = session.execute(
        select(m.id, m.campaign_id, m.contact_id)
        .where(
            m.phone == phone,
            m.sent_at >= at - window,
            m.sent_at <= at + CLOCK_SLACK,
            m.status.in_(ATTRIBUTABLE),
        )
        .order_by(m.sent_at.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.id, row.campaign_id, row.contact_id)


def _record_reply(
    session: Session, target: _Target, message: InboundMessage, deltas: Deltas
) -> bool:
    """Record the first reply; True when the message had none yet (and count it)."""
    m = CampaignMessage.__table__
    values = {
        "replied_at": message.at,
        "reply_text": (message.text or f"[{message.kind}]")[:MAX_REPLY_TEXT],
        "reply_wamid": message.wamid,
    }
    first = session.execute(
        update(m).where(m.c.id == target[0], m.c.replied_at.is_(None)).values(**values)
    ).rowcount
    if first:
        deltas.add(target[1], "replied")
        return True
    # An earlier reply that arrived late becomes the first one; nothing is counted again.
    session.execute(
        update(m).where(m.c.id == target[0], m.c.replied_at > message.at).values(**values)
    )
    return False


def _keyword(message: InboundMessage, settings: Settings) -> Consent | None:
    for text in message.keyword_texts:
        found = match(text, settings.opt_out_keywords, settings.opt_in_keywords)
        if found is not None:
            return found
    return None
