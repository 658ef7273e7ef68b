"""One campaign's messages, live from the operational database: lists, tracking and replies.

Phone numbers are masked unless the actor may see them (``phone:unmasked``). Whether a
failed message may be retried is decided by ``core.campaigns.outbox`` (its error class);
the list only reports it. Pages are ordered stably so paging through a running campaign
neither skips nor repeats a message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core.analytics.rollups import EVENTS
from core.analytics.warehouse import Warehouse, WarehouseMissing
from core.campaigns.outbox import RETRYABLE_CATEGORIES, error_category
from core.campaigns.service import load
from core.errors import InvalidInput, NotFound
from core.pages import Page
from core.permissions import Actor, Permission, require
from core.phones import mask_phone
from sql.schema import MESSAGE_STATUSES, CampaignMessage, Contact

MAX_PAGE_SIZE = 500
M = CampaignMessage


@dataclass(frozen=True)
class MessageView:
    """A campaign message as this actor may see it."""

    id: uuid.UUID
    contact_id: uuid.UUID | None
    contact_name: str | None
    phone: str
    phone_masked: bool
    status: str
    attempts: int
    error_code: int | None
    error_category: str | None
    error_title: str | None
    error_message: str | None
    retryable: bool
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    replied_at: datetime | None
    opted_out_at: datetime | None
    reply_text: str | None
    updated_at: datetime

    def timeline(self) -> list[dict[str, Any]]:
        """What happened to the message, in order: ``[{"event": "sent", "at": ...}, ...]``."""
        moments = [(event, getattr(self, f"{event}_at")) for event in EVENTS]
        return [
            {"event": e, "at": at}
            for e, at in sorted(
                ((e, at) for e, at in moments if at is not None), key=lambda pair: pair[1]
            )
        ]

    def seconds(self, event: str) -> float | None:
        """Seconds from sending to ``event`` (delivered, read, replied); None if not both."""
        at = getattr(self, f"{event}_at")
        if self.sent_at is None or at is None or at < self.sent_at:
            return None
        return (at - self.sent_at).total_seconds()


MessagePage = Page[MessageView]


@dataclass(frozen=True)
class FailureGroup:
    """Failed messages sharing one error: how many, and whether an owner may retry them."""

    error_code: int | None
    error_category: str | None
    error_title: str | None
    count: int
    retryable: bool


def is_retryable(code: int | None, category: str | None) -> bool:
    """The outbox's rule: retry transient, throttled and (fixed) campaign-fatal errors."""
    return error_category(code, category) in RETRYABLE_CATEGORIES


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must not be negative, got {offset}")


def _check_status(status: str | None) -> None:
    if status is not None and status not in MESSAGE_STATUSES:
        raise InvalidInput(
            f"Unknown message status {status!r}; expected one of {', '.join(MESSAGE_STATUSES)}.",
            [{"field": "status", "message": f"must be one of {', '.join(MESSAGE_STATUSES)}"}],
        )


def message_query(campaign_id: uuid.UUID) -> Select[Any]:
    """A campaign's messages with their contact's name, in a stable order."""
    return (
        select(M, Contact.name)
        .outerjoin(Contact, Contact.id == M.contact_id)
        .where(M.campaign_id == campaign_id)
        .order_by(M.created_at, M.id)
    )


def view(actor: Actor, message: CampaignMessage, contact_name: str | None) -> MessageView:
    unmasked = actor.can(Permission.PHONE_UNMASKED)
    return MessageView(
        id=message.id,
        contact_id=message.contact_id,
        contact_name=contact_name,
        phone=message.phone if unmasked else mask_phone(message.phone),
        phone_masked=not unmasked,
        status=message.status,
        attempts=message.attempts or 0,
        error_code=message.error_code,
        error_category=error_category(message.error_code, message.error_category),
        error_title=message.error_title,
        error_message=message.error_message,
        retryable=message.status == "failed"
        and is_retryable(message.error_code, message.error_category),
        sent_at=message.sent_at,
        delivered_at=message.delivered_at,
        read_at=message.read_at,
        failed_at=message.failed_at,
        replied_at=message.replied_at,
        opted_out_at=message.opted_out_at,
        reply_text=message.reply_text,
        updated_at=message.updated_at,
    )


def list_messages(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    status: str | None = None,
    message_ids: list[uuid.UUID] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> MessagePage:
    """A page of the campaign's messages, optionally of one status (e.g. failed)."""
    require(actor, Permission.ANALYTICS_READ)
    _check_page(limit, offset)
    _check_status(status)
    load(session, campaign_id)
    query = message_query(campaign_id)
    if status is not None:
        query = query.where(M.status == status)
    if message_ids is not None:
        query = query.where(M.id.in_(message_ids))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.execute(query.limit(limit).offset(offset)).all()
    return MessagePage([view(actor, m, name) for m, name in rows], total, limit, offset)


def failure_groups(session: Session, actor: Actor, campaign_id: uuid.UUID) -> list[FailureGroup]:
    """The campaign's failed messages grouped by error, most frequent first."""
    require(actor, Permission.ANALYTICS_READ)
    load(session, campaign_id)
    rows = session.execute(
        select(M.error_code, M.error_category, func.max(M.error_title), func.count())
        .where(M.campaign_id == campaign_id, M.status == "failed")
        .group_by(M.error_code, M.error_category)
    ).all()
    groups = [
        FailureGroup(
            code, error_category(code, category), title, count, is_retryable(code, category)
        )
        for code, category, title, count in rows
    ]
    return sorted(groups, key=lambda g: (-g.count, g.error_code or 0))


def message_events(
    actor: Actor, campaign_id: uuid.UUID, message_id: uuid.UUID, warehouse: Warehouse
) -> list[dict[str, Any]] | None:
    """The webhook events the warehouse matched to one message (None: no warehouse yet)."""
    require(actor, Permission.ANALYTICS_READ)
    try:
        with warehouse.reader() as con:
            return (
                con.sql(
                    "SELECT received_at, kind, status, occurred_at, delay_seconds, matched_by, "
                    "error_code FROM event_facts WHERE message_id = ? AND campaign_id = ? "
                    "ORDER BY occurred_at, received_at, item",
                    params=[str(message_id), str(campaign_id)],
                )
                .pl()
                .to_dicts()
            )
    except WarehouseMissing:
        return None


def get_message(
    session: Session, actor: Actor, campaign_id: uuid.UUID, message_id: uuid.UUID
) -> MessageView:
    page = list_messages(session, actor, campaign_id, message_ids=[message_id], limit=1)
    if not page.items:
        raise NotFound(f"Message {message_id} is not part of campaign {campaign_id}.")
    return page.items[0]


@dataclass(frozen=True)
class Reply:
    message_id: uuid.UUID
    contact_id: uuid.UUID | None
    contact_name: str | None
    phone: str
    phone_masked: bool
    reply_text: str | None
    sent_at: datetime | None
    replied_at: datetime
    seconds_to_reply: float | None


ReplyPage = Page[Reply]


def list_replies(
    session: Session, actor: Actor, campaign_id: uuid.UUID, *, limit: int = 50, offset: int = 0
) -> ReplyPage:
    """The answers recipients sent to the campaign, newest first."""
    require(actor, Permission.ANALYTICS_READ)
    _check_page(limit, offset)
    load(session, campaign_id)
    query = (
        select(M, Contact.name)
        .outerjoin(Contact, Contact.id == M.contact_id)
        .where(M.campaign_id == campaign_id, M.replied_at.is_not(None))
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(M.replied_at.desc(), M.id).limit(limit).offset(offset)
    ).all()
    replies = []
    for message, name in rows:
        seen = view(actor, message, name)
        replies.append(
            Reply(
                seen.id,
                seen.contact_id,
                seen.contact_name,
                seen.phone,
                seen.phone_masked,
                seen.reply_text,
                seen.sent_at,
                message.replied_at,
                seen.seconds("replied"),
            )
        )
    return ReplyPage(replies, total, limit, offset)
