"""Signing in and out, tokens that expire or are revoked, and who may call what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update

from core.db import UnitOfWork
from core.permissions import Actor
from core.profiles import set_active
from core.security import hash_token
from core.settings import Settings
from core.sign_ins import MAX_FAILURES
from sql.schema import ApiToken, AuditLog
from sql.types import utcnow
from tests.conftest import TEST_PASSWORD

Client = Callable[[str | None], httpx.Client]


def _login(api: httpx.Client, email: str, password: str = TEST_PASSWORD) -> httpx.Response:
    return api.post("/api/auth/login", json={"email": email, "password": password})


def test_login_returns_a_working_bearer_token(
    api: httpx.Client, client_for: Client, owner: Actor, uow: UnitOfWork
) -> None:
    response = _login(api, "  Owner@Example.com ")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["profile"]["email"] == "owner@example.com"
    assert body["profile"]["role"] == "owner"
    assert "password_hash" not in body["profile"]
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=29) < expires_at - utcnow() <= timedelta(days=30)

    me = client_for(body["access_token"]).get("/api/me")
    assert me.status_code == 200
    assert me.json()["email"] == "owner@example.com"
    assert "profile:manage" in me.json()["permissions"]

    with uow.session() as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "token.issue")).one()
        assert (entry.actor_id, entry.actor_role) == (owner.id, "owner")


def test_token_lifetime_follows_settings(
    api: httpx.Client, owner: Actor, settings: Settings
) -> None:
    settings.token_ttl_days = 2
    body = _login(api, "owner@example.com").json()
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=1) < expires_at - utcnow() <= timedelta(days=2)


def test_wrong_password_is_401_and_issues_nothing(
    api: httpx.Client, owner: Actor, uow: UnitOfWork
) -> None:
    response = _login(api, "owner@example.com", "not-the-password")
    assert response.status_code == 401
    assert response.json() == {"detail": "Wrong email or password."}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    with uow.session() as session:
        assert session.scalars(select(ApiToken)).all() == []


def test_unknown_email_answers_like_a_wrong_password(api: httpx.Client, owner: Actor) -> None:
    response = _login(api, "nobody@example.com")
    assert response.status_code == 401
    assert response.json() == {"detail": "Wrong email or password."}


def test_inactive_profile_cannot_sign_in_nor_use_its_tokens(
    api: httpx.Client,
    client_for: Client,
    owner: Actor,
    agent: Actor,
    agent_token: str,
    uow: UnitOfWork,
) -> None:
    with uow.begin() as session:
        set_active(session, owner, agent.id, False)
    assert _login(api, "agent@example.com").status_code == 401
    response = client_for(agent_token).get("/api/me")
    assert response.status_code == 401
    assert "deactivated" in response.json()["detail"]


def test_repeated_failed_logins_are_audited_then_answered_429(
    api: httpx.Client, owner: Actor, uow: UnitOfWork
) -> None:
    for _ in range(MAX_FAILURES):
        assert _login(api, "owner@example.com", "wrong-password").status_code == 401
    refused = _login(api, "owner@example.com")
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many failed sign-ins for owner@example.com.")
    with uow.session() as session:
        vias = session.scalars(
            select(AuditLog.details).where(AuditLog.action == "sign_in.failed")
        ).all()
    assert vias == [{"via": "api"}] * MAX_FAILURES


def test_requests_without_a_token_are_401_with_bearer_challenge(api: httpx.Client) -> None:
    for path in ("/api/me", "/api/profiles", "/api/contacts", "/api/audit", "/api/stats"):
        response = api.get(path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in response.json()["detail"]


def test_unknown_or_malformed_token_is_401(api: httpx.Client, client_for: Client) -> None:
    assert client_for("sk_siaran_made-up").get("/api/me").status_code == 401
    basic = api.get("/api/me", headers={"Authorization": "Basic b3duZXI6cHc="})
    assert basic.status_code == 401


def test_expired_token_is_refused(client_for: Client, owner_token: str, uow: UnitOfWork) -> None:
    client = client_for(owner_token)
    assert client.get("/api/me").status_code == 200
    with uow.begin() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hash_token(owner_token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = client.get("/api/me")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_logout_revokes_only_that_token(
    client_for: Client, owner: Actor, owner_token: str, uow: UnitOfWork
) -> None:
    other = client_for(_login(client_for(None), "owner@example.com").json()["access_token"])
    client = client_for(owner_token)
    response = client.post("/api/auth/logout")
    assert response.status_code == 204
    again = client.get("/api/me")
    assert again.status_code == 401
    assert "revoked" in again.json()["detail"]
    assert client.post("/api/auth/logout").status_code == 401
    assert other.get("/api/me").status_code == 200
    with uow.session() as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "token.revoke")).one()
        assert entry.actor_id == owner.id


def test_me_lists_what_the_role_may_do(agent_api: httpx.Client, supervisor_api: httpx.Client):
    assert agent_api.get("/api/me").json()["permissions"] == []
    supervisor = supervisor_api.get("/api/me").json()
    assert supervisor["role"] == "supervisor"
    assert "contact:read" in supervisor["permissions"]
    assert "phone:unmasked" not in supervisor["permissions"]


def test_login_validation_errors_name_the_fields(api: httpx.Client) -> None:
    response = api.post("/api/auth/login", json={"email": "owner@example.com"})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "Invalid request: password: Field required"
    assert body["errors"] == [
        {"field": "password", "location": "body", "message": "Field required"}
    ]


def test_validation_errors_never_echo_the_input(api: httpx.Client) -> None:
    secret = "s3cret-but-way-too-long" * 100
    response = api.post("/api/auth/login", json={"email": "a@b.c", "password": secret})
    assert response.status_code == 422
    assert "password" in response.json()["detail"]
    assert "s3cret" not in response.text
