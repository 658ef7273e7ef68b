"""How Meta's webhooks are arriving: stored events by state, rejections, backlog (owners)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from core.webhooks import webhook_stats
from webhook.deps import CurrentActor, DbSession

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])


class ReceiverOut(BaseModel):
    since: datetime = Field(description="When this server process started receiving.")
    accepted: int = Field(description="Signed bodies stored (duplicates included).")
    duplicates: int = Field(description="Bodies WhatsApp delivered again, stored once.")
    rejected: dict[str, int] = Field(
        description="Turned away, by reason: missing_signature, bad_signature, no_account, "
        "too_large, malformed."
    )
    updates_received: int = Field(description="Statuses, messages and other updates in them.")
    events_processed: int
    events_failed: int = Field(description="Kept with their error; retried by the retry job.")
    queued: int = Field(description="Stored, waiting for this process to apply them.")


class WebhookStatsOut(BaseModel):
    events_by_state: dict[str, int] = Field(
        description="Stored events: received, processed, failed."
    )
    due_for_retry: int
    last_received_at: datetime | None
    oldest_unprocessed_at: datetime | None
    last_error: str | None = Field(description="The error of the latest failed event.")
    receiver: ReceiverOut | None = Field(
        description="Counts of this server process since it started (rejections are not stored)."
    )


@router.get("/stats", summary="Webhook delivery health: stored, failed, rejected (owners)")
def get_webhook_stats(request: Request, session: DbSession, actor: CurrentActor) -> WebhookStatsOut:
    state = getattr(request.app.state, "webhooks", None)
    counts = state.receiver.counts() if state is not None else None
    stats = webhook_stats(session, actor, counts)
    return WebhookStatsOut(
        events_by_state=stats.by_state,
        due_for_retry=stats.due_for_retry,
        last_received_at=stats.last_received_at,
        oldest_unprocessed_at=stats.oldest_unprocessed_at,
        last_error=stats.last_error,
        receiver=None if counts is None else ReceiverOut(**counts.__dict__),
    )
