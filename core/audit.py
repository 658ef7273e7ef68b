"""The audit log: every write the core performs leaves one record with its actor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.permissions import Actor, Permission, require
from sql.schema import AuditLog

# Sign-ins, failed ones and sign-outs (issuing and revoking tokens), of the app and the API.
SIGN_IN_ACTIONS = ("token.issue", "token.revoke", "sign_in.failed")


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Add an audit row to ``session``; it commits (or rolls back) with the write it records."""
    entry = AuditLog(
        actor_id=actor.id,
        actor_email=actor.email,
        actor_role=actor.role.value,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=_jsonable(details or {}),
    )
    session.add(entry)
    return entry


def recent(
    session: Session,
    actor: Actor,
    *,
    target_type: str | None = None,
    target_id: object | None = None,
    limit: int = 100,
    include_sign_ins: bool = True,
) -> list[AuditLog]:
    """The newest entries first; ``include_sign_ins=False`` keeps only changes to data."""
    require(actor, Permission.AUDIT_READ)
    query = select(AuditLog).order_by(AuditLog.created_at.desc()).limit(limit)
    if not include_sign_ins:
        query = query.where(AuditLog.action.not_in(SIGN_IN_ACTIONS))
    if target_type:
        query = query.where(AuditLog.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditLog.target_id == str(target_id))
    return list(session.scalars(query))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
