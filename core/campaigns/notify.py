"""Telling owners what their campaigns do: in-app notifications, the log, a webhook.

When a campaign starts, ends (completed, failed, cancelled), is paused by Siaran or could
not start, ``notify_campaign`` adds a ``notifications`` row for the campaign's creator and
every active owner and writes a log line, in the caller's transaction. If
``SIARAN_NOTIFY_WEBHOOK_URL`` is set, a JSON POST goes there too, only after that
transaction commits, from a background thread with a short timeout: a slow or broken
receiver never blocks or fails a campaign (its failure is logged).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from core.permissions import Actor
from core.settings import Settings
from sql.schema import Campaign, Notification, Profile
from sql.types import utcnow

log = logging.getLogger("siaran.campaigns")
_PENDING = "siaran.campaigns.notify.pending"
_HOOKED = "siaran.campaigns.notify.hooked"
_deliveries: set[threading.Thread] = set()
_lock = threading.Lock()


@dataclass(frozen=True)
class Event:
    kind: str
    title: str  # "{name}" is the campaign's name


EVENTS: dict[str, Event] = {
    "started": Event("campaign_started", "Campaign '{name}' started"),
    "reopened": Event("campaign_started", "Campaign '{name}' is sending again"),
    "completed": Event("campaign_completed", "Campaign '{name}' completed"),
    "failed": Event("campaign_failed", "Campaign '{name}' failed"),
    "cancelled": Event("campaign_cancelled", "Campaign '{name}' was cancelled"),
    "paused": Event("campaign_paused", "Campaign '{name}' was paused"),
    "not_started": Event("campaign_not_started", "Campaign '{name}' could not start"),
}


def _body(campaign: Campaign, event_name: str, reason: str | None) -> str:
    total = campaign.total_recipients
    if event_name in ("started", "reopened"):
        text = f"Sending to {total:,} recipients."
    elif event_name in ("completed", "failed", "cancelled"):
        text = (
            f"{campaign.sent_count:,} of {total:,} sent, {campaign.delivered_count:,} "
            f"delivered, {campaign.read_count:,} read, {campaign.failed_count:,} failed."
        )
    else:
        text = ""
    return " ".join(p for p in (reason, text) if p) or campaign.name


def _recipients(session: Session, campaign: Campaign) -> list[uuid.UUID]:
    owners = session.scalars(
        select(Profile.id).where(Profile.role == "owner", Profile.is_active).order_by(Profile.id)
    )
    found = list(owners)
    if campaign.created_by is not None and campaign.created_by not in found:
        creator = session.get(Profile, campaign.created_by)
        if creator is not None and creator.is_active:
            found.insert(0, campaign.created_by)
    return found


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def webhook_body(
    campaign: Campaign, event_name: str, reason: str | None, at: datetime
) -> dict[str, Any]:
    """The JSON posted to the outgoing webhook."""
    return {
        "event": f"campaign.{event_name}",
        "occurred_at": at.isoformat(),
        "reason": reason,
        "campaign": {
            "id": str(campaign.id),
            "name": campaign.name,
            "status": campaign.status,
            "status_reason": campaign.status_reason,
            "total_recipients": campaign.total_recipients,
            "sent": campaign.sent_count,
            "delivered": campaign.delivered_count,
            "read": campaign.read_count,
            "failed": campaign.failed_count,
            "replied": campaign.replied_count,
            "scheduled_at": _iso(campaign.scheduled_at),
            "started_at": _iso(campaign.started_at),
            "completed_at": _iso(campaign.completed_at),
            "cancelled_at": _iso(campaign.cancelled_at),
        },
    }


def notify_campaign(
    session: Session,
    campaign: Campaign,
    event_name: str,
    *,
    settings: Settings,
    reason: str | None = None,
    now: datetime | None = None,
) -> list[Notification]:
    """Notify the creator and the owners about ``event_name`` (a key of ``EVENTS``)."""
    chosen = EVENTS[event_name]
    now = now or utcnow()
    title = chosen.title.format(name=campaign.name)[:200]
    body = _body(campaign, event_name, reason)
    created = [
        Notification(
            profile_id=profile_id,
            kind=chosen.kind,
            title=title,
            body=body,
            campaign_id=campaign.id,
            created_at=now,
        )
        for profile_id in _recipients(session, campaign)
    ]
    session.add_all(created)
    log.info("campaign %s (%s) %s: %s", campaign.name, campaign.id, event_name, body)
    if settings.notify_webhook_url:
        _post_after_commit(
            session,
            settings.notify_webhook_url,
            settings.notify_webhook_timeout,
            webhook_body(campaign, event_name, reason, now),
        )
    return created


# --- the outgoing webhook, after commit ---------------------------------------------------


def _post_after_commit(session: Session, url: str, timeout: float, body: dict[str, Any]) -> None:
    session.info.setdefault(_PENDING, []).append((url, timeout, body))
    if session.info.get(_HOOKED):
        return
    session.info[_HOOKED] = True

    @event.listens_for(session, "after_commit")
    def _send(committed: Session) -> None:
        for item in committed.info.pop(_PENDING, []):
            _start(*item)

    @event.listens_for(session, "after_soft_rollback")
    def _drop(rolled_back: Session, _previous: Any) -> None:
        rolled_back.info.pop(_PENDING, None)


def _start(url: str, timeout: float, body: dict[str, Any]) -> None:
    thread = threading.Thread(
        target=_deliver, args=(url, timeout, body), name="siaran-notify", daemon=True
    )
    with _lock:
        _deliveries.add(thread)
    thread.start()


def _deliver(url: str, timeout: float, body: dict[str, Any]) -> None:
    try:
        response = httpx.post(
            url, json=body, timeout=timeout, headers={"User-Agent": "Siaran notifications"}
        )
        if response.status_code >= 400:
            log.warning(
                "notification webhook %s answered HTTP %s for %s",
                url,
                response.status_code,
                body["event"],
            )
    except Exception as exc:  # a receiver's trouble must never reach a campaign
        log.warning("notification webhook %s failed for %s: %s", url, body["event"], exc)
    finally:
        with _lock:
            _deliveries.discard(threading.current_thread())


def wait_for_deliveries(timeout: float = 10.0) -> bool:
    """Wait for webhook posts in flight (e.g. before a job's process exits)."""
    with _lock:
        pending = list(_deliveries)
    deadline = time.monotonic() + timeout
    for thread in pending:
        thread.join(max(0.0, deadline - time.monotonic()))
    with _lock:
        return not any(t.is_alive() for t in _deliveries)


# --- reading them -------------------------------------------------------------------------


def list_notifications(
    session: Session, actor: Actor, *, unread_only: bool = False, limit: int = 50
) -> list[Notification]:
    """The actor's own notifications, newest first."""
    if actor.id is None:
        return []
    query = (
        select(Notification)
        .where(Notification.profile_id == actor.id)
        .order_by(Notification.created_at.desc())
        .limit(max(1, min(limit, 500)))
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query))


def mark_read(
    session: Session, actor: Actor, notification_ids: list[uuid.UUID] | None = None
) -> int:
    """Mark the actor's notifications read (all unread ones when no ids are given)."""
    if actor.id is None:
        return 0
    query = update(Notification).where(
        Notification.profile_id == actor.id, Notification.read_at.is_(None)
    )
    if notification_ids is not None:
        query = query.where(Notification.id.in_(notification_ids))
    return session.execute(query.values(read_at=utcnow())).rowcount
