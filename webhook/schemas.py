"""Pydantic models shared by several routers: the error shape and profiles.

Models used by one router only live in that router's module.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.permissions import Actor, Permission
from sql.schema import Profile


class FieldError(BaseModel):
    field: str = Field(description="The offending field, dotted for nested ones.")
    location: str | None = Field(default=None, description="body, query, path or header.")
    message: str


class ErrorOut(BaseModel):
    """Every error the API returns has this shape."""

    detail: str = Field(description="One readable sentence saying what went wrong.")
    errors: list[FieldError] | None = Field(
        default=None, description="Per-field problems (422 only)."
    )


#: Documented on every router; the 422 entry replaces FastAPI's own validation schema.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Not signed in, or the token is not valid"},
    403: {"model": ErrorOut, "description": "Your role may not do this"},
    422: {"model": ErrorOut, "description": "The request is invalid"},
}


class ProfileOut(BaseModel):
    """A user of Siaran, without their password hash."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str
    role: str
    is_active: bool
    last_login_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, profile: Profile) -> ProfileOut:
        return cls.model_validate(profile)


class MeOut(BaseModel):
    """The signed-in actor and what their role allows (so a client can hide what it can't do)."""

    id: uuid.UUID | None
    email: str
    full_name: str
    role: str
    permissions: list[str]

    @classmethod
    def of(cls, actor: Actor) -> MeOut:
        return cls(
            id=actor.id,
            email=actor.email,
            full_name=actor.full_name,
            role=actor.role.value,
            permissions=sorted(p.value for p in Permission if actor.can(p)),
        )
