"""The signed-in user's notifications (campaign started, completed, paused, ...).

Every role reads and marks its own; nobody sees another's.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from core.campaigns import list_notifications, mark_read
from core.errors import NotFound
from sql.schema import Notification
from webhook.api.campaign_models import NotificationOut
from webhook.deps import CurrentActor, DbSession

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


class MarkedOut(BaseModel):
    marked: int


@router.get("", summary="Your notifications, newest first")
def list_mine(
    session: DbSession,
    actor: CurrentActor,
    unread_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[NotificationOut]:
    found = list_notifications(session, actor, unread_only=unread_only, limit=limit)
    return [NotificationOut.of(n) for n in found]


@router.post("/read", summary="Mark all your unread notifications read")
def read_all(session: DbSession, actor: CurrentActor) -> MarkedOut:
    marked = mark_read(session, actor)
    session.commit()
    return MarkedOut(marked=marked)


@router.post(
    "/{notification_id}/read",
    responses={404: {"description": "No such notification of yours"}},
    summary="Mark one notification read (again is fine)",
)
def read_one(
    notification_id: uuid.UUID, session: DbSession, actor: CurrentActor
) -> NotificationOut:
    mark_read(session, actor, [notification_id])
    notification = session.get(Notification, notification_id)
    if notification is None or actor.id is None or notification.profile_id != actor.id:
        raise NotFound(f"You have no notification {notification_id}.")
    session.commit()
    session.refresh(notification)
    return NotificationOut.of(notification)
