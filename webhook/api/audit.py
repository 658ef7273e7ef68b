"""The audit log: who did what to which object, newest first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from core import audit
from webhook.deps import CurrentActor, DbSession

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    actor_id: uuid.UUID | None
    actor_email: str
    actor_role: str
    action: str
    target_type: str
    target_id: str | None
    details: dict[str, Any]


@router.get("", summary="Recent audit records, optionally for one target")
def list_audit(
    session: DbSession,
    actor: CurrentActor,
    target_type: Annotated[str | None, Query(max_length=50, examples=["profile"])] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryOut]:
    entries = audit.recent(
        session, actor, target_type=target_type, target_id=target_id, limit=limit
    )
    return [AuditEntryOut.model_validate(entry) for entry in entries]
