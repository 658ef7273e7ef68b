"""Request dependencies, as ``Annotated`` aliases so route signatures read like prose.

``App``           the composition root (settings, engine, unit of work)
``DbSession``     one session per request; it rolls back at the end unless the route
                  commits, so a write route calls ``session.commit()`` before answering
                  (never after: the client must not hear "done" for an unsaved change)
``BearerToken``   the raw token from ``Authorization: Bearer <token>``
``CurrentActor``  who is calling, resolved by ``core.profiles.actor_for_token``

Role checks are not made here: the core service functions call ``require`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from core.bootstrap import Siaran
from core.errors import AuthenticationFailed
from core.permissions import Actor
from core.profiles import actor_for_token

_bearer = HTTPBearer(
    auto_error=False,
    description="A token from `POST /api/auth/login`, sent as `Authorization: Bearer <token>`.",
)


def get_siaran(request: Request) -> Siaran:
    return request.app.state.siaran


App = Annotated[Siaran, Depends(get_siaran)]


def get_session(app: App) -> Iterator[Session]:
    with app.uow.session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]


def get_bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None or not credentials.credentials.strip():
        raise AuthenticationFailed(
            "Not signed in: send `Authorization: Bearer <token>` "
            "(get a token from POST /api/auth/login)."
        )
    return credentials.credentials.strip()


BearerToken = Annotated[str, Depends(get_bearer_token)]


def get_current_actor(session: DbSession, token: BearerToken) -> Actor:
    return actor_for_token(session, token)


CurrentActor = Annotated[Actor, Depends(get_current_actor)]
