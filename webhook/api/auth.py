"""Signing in and out with bearer tokens, and who am I."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from core import profiles
from core.sign_ins import sign_in_limited
from webhook.deps import App, BearerToken, CurrentActor, DbSession
from webhook.schemas import MeOut, ProfileOut

router = APIRouter(prefix="/api", tags=["auth"])


class LoginIn(BaseModel):
    email: str = Field(min_length=3, max_length=254, examples=["owner@example.com"])
    # The upper bound keeps a huge body from tying up the password hasher.
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(BaseModel):
    access_token: str = Field(description="Send as `Authorization: Bearer <token>`; shown once.")
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    profile: ProfileOut


@router.post(
    "/auth/login",
    summary="Sign in and get a bearer token",
    responses={429: {"description": "Too many failed sign-ins for this email; try later"}},
)
def login(body: LoginIn, app: App) -> LoginOut:
    """Wrong email, wrong password and a deactivated profile all answer 401 alike."""
    signed_in = sign_in_limited(
        app.uow,
        body.email,
        body.password,
        ttl_days=app.settings.token_ttl_days,
        token_name="login",
        via="api",
    )
    return LoginOut(
        access_token=signed_in.token,
        expires_at=signed_in.expires_at,
        profile=ProfileOut.of(signed_in.profile),
    )


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke the token this request carries",
)
def logout(session: DbSession, actor: CurrentActor, token: BearerToken) -> Response:
    profiles.revoke_token(session, actor, token)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", summary="The signed-in profile and its permissions")
def me(actor: CurrentActor) -> MeOut:
    return MeOut.of(actor)
