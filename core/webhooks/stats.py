"""How the webhook receiver is doing, for owners: stored events by state, rejections, backlog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.permissions import Actor, Permission, require
from core.webhooks.processing import due_count
from core.webhooks.receiver import ReceiverCounts
from sql.schema import WEBHOOK_EVENT_STATES, WebhookEvent
from sql.types import utcnow


@dataclass(frozen=True)
class WebhookStats:
    by_state: dict[str, int]  # stored events: received, processed, failed
    due_for_retry: int
    last_received_at: datetime | None
    oldest_unprocessed_at: datetime | None
    last_error: str | None  # of the most recent failed event
    receiver: ReceiverCounts | None  # this server process since it started


def webhook_stats(
    session: Session, actor: Actor, receiver: ReceiverCounts | None = None
) -> WebhookStats:
    require(actor, Permission.ACCOUNT_MANAGE)
    by_state = dict.fromkeys(WEBHOOK_EVENT_STATES, 0)
    for state, count in session.execute(
        select(WebhookEvent.state, func.count()).group_by(WebhookEvent.state)
    ):
        by_state[state] = int(count)
    last_received = session.scalar(select(func.max(WebhookEvent.received_at)))
    oldest = session.scalar(
        select(func.min(WebhookEvent.received_at)).where(WebhookEvent.state != "processed")
    )
    last_error = session.scalar(
        select(WebhookEvent.error)
        .where(WebhookEvent.state == "failed")
        .order_by(WebhookEvent.received_at.desc())
        .limit(1)
    )
    return WebhookStats(
        by_state=by_state,
        due_for_retry=due_count(session, utcnow()),
        last_received_at=last_received,
        oldest_unprocessed_at=oldest,
        last_error=last_error,
        receiver=receiver,
    )
