"""Profiles (the people who use Siaran): owners list, create, activate and re-role them."""

from __future__ import annotations

import uuid
from typing import Literal, Self

from fastapi import APIRouter, status
from pydantic import BaseModel, Field, model_validator

from core import profiles
from webhook.deps import CurrentActor, DbSession
from webhook.schemas import ProfileOut

router = APIRouter(prefix="/api/profiles", tags=["profiles"])

RoleName = Literal["owner", "supervisor", "agent"]


class ProfileCreate(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    full_name: str = Field(default="", max_length=200)
    role: RoleName
    password: str = Field(min_length=1, max_length=1024)


class ProfileUpdate(BaseModel):
    is_active: bool | None = None
    role: RoleName | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if self.is_active is None and self.role is None:
            raise ValueError("give is_active and/or role")
        return self


@router.get("", summary="Every profile, by email")
def list_profiles(session: DbSession, actor: CurrentActor) -> list[ProfileOut]:
    return [ProfileOut.of(p) for p in profiles.list_profiles(session, actor)]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a profile")
def create_profile(body: ProfileCreate, session: DbSession, actor: CurrentActor) -> ProfileOut:
    profile = profiles.create_profile(
        session,
        actor,
        email=body.email,
        full_name=body.full_name,
        role=body.role,
        password=body.password,
    )
    session.commit()
    return ProfileOut.of(profile)


@router.patch("/{profile_id}", summary="Activate, deactivate or change the role of a profile")
def update_profile(
    profile_id: uuid.UUID, body: ProfileUpdate, session: DbSession, actor: CurrentActor
) -> ProfileOut:
    profile = None
    if body.role is not None:
        profile = profiles.set_role(session, actor, profile_id, body.role)
    if body.is_active is not None:
        profile = profiles.set_active(session, actor, profile_id, body.is_active)
    assert profile is not None  # the model refuses an empty update
    session.commit()
    return ProfileOut.of(profile)
