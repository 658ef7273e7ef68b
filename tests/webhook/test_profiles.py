"""Profiles over HTTP: owners manage them; every change is audited with its actor."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from core.db import UnitOfWork
from core.permissions import Actor
from sql.schema import AuditLog, Profile

NEW = {
    "email": "New.Agent@Example.com",
    "full_name": "Ani Agent",
    "role": "agent",
    "password": "a-long-enough-password",
}


def _audit(uow: UnitOfWork, action: str) -> list[AuditLog]:
    with uow.session() as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_owner_lists_profiles_without_secrets(
    owner_api: httpx.Client, supervisor: Actor, agent: Actor
) -> None:
    response = owner_api.get("/api/profiles")
    assert response.status_code == 200
    profiles = response.json()
    assert [p["email"] for p in profiles] == [
        "agent@example.com",
        "owner@example.com",
        "supervisor@example.com",
    ]
    assert all("password_hash" not in p for p in profiles)


def test_owner_creates_a_profile_that_can_sign_in(
    owner_api: httpx.Client, api: httpx.Client, owner: Actor, uow: UnitOfWork
) -> None:
    response = owner_api.post("/api/profiles", json=NEW)
    assert response.status_code == 201
    created = response.json()
    assert created["email"] == "new.agent@example.com"
    assert created["role"] == "agent" and created["is_active"] is True

    login = api.post(
        "/api/auth/login", json={"email": "new.agent@example.com", "password": NEW["password"]}
    )
    assert login.status_code == 200

    (entry,) = [e for e in _audit(uow, "profile.create") if e.actor_role != "system"]
    assert entry.target_id == created["id"]
    assert (entry.actor_id, entry.actor_role) == (owner.id, "owner")


def test_duplicate_email_is_409(owner_api: httpx.Client) -> None:
    assert owner_api.post("/api/profiles", json=NEW).status_code == 201
    response = owner_api.post("/api/profiles", json=NEW | {"email": "new.agent@example.com"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "A profile with email new.agent@example.com already exists."
    }


def test_short_password_is_a_readable_422_from_the_core(owner_api: httpx.Client) -> None:
    response = owner_api.post("/api/profiles", json=NEW | {"password": "short"})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "Password must be at least 8 characters long."
    assert body["errors"] == []


def test_unknown_role_is_422_naming_the_field(owner_api: httpx.Client) -> None:
    response = owner_api.post("/api/profiles", json=NEW | {"role": "admin"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "role"
    assert response.json()["detail"].startswith("Invalid request: role: ")


def test_supervisor_and_agent_cannot_manage_profiles(
    supervisor_api: httpx.Client, agent_api: httpx.Client, owner: Actor, uow: UnitOfWork
) -> None:
    for client, role in ((supervisor_api, "supervisor"), (agent_api, "agent")):
        created = client.post("/api/profiles", json=NEW)
        assert created.status_code == 403
        assert created.json() == {"detail": f"Your role ({role}) may not manage profiles."}
        assert client.get("/api/profiles").status_code == 403
        patched = client.patch(f"/api/profiles/{owner.id}", json={"is_active": False})
        assert patched.status_code == 403
    with uow.session() as session:
        assert (
            session.scalar(select(Profile).where(Profile.email == "new.agent@example.com")) is None
        )
    # Only the fixtures' own profiles, created by the system user, were recorded.
    assert {e.actor_role for e in _audit(uow, "profile.create")} == {"system"}


def test_deactivate_and_reactivate_are_audited(
    owner_api: httpx.Client, owner: Actor, agent: Actor, uow: UnitOfWork
) -> None:
    response = owner_api.patch(f"/api/profiles/{agent.id}", json={"is_active": False})
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    response = owner_api.patch(f"/api/profiles/{agent.id}", json={"is_active": True})
    assert response.json()["is_active"] is True
    for action in ("profile.deactivate", "profile.activate"):
        (entry,) = _audit(uow, action)
        assert (entry.actor_id, entry.target_id) == (owner.id, str(agent.id))


def test_role_change_is_audited_and_takes_effect_at_once(
    owner_api: httpx.Client, agent_api: httpx.Client, owner: Actor, agent: Actor, uow: UnitOfWork
) -> None:
    assert agent_api.get("/api/contacts").status_code == 403
    response = owner_api.patch(f"/api/profiles/{agent.id}", json={"role": "supervisor"})
    assert response.status_code == 200
    assert response.json()["role"] == "supervisor"
    assert agent_api.get("/api/contacts").status_code == 200
    (entry,) = _audit(uow, "profile.role")
    assert entry.actor_id == owner.id
    assert entry.details == {"from": "agent", "to": "supervisor"}


def test_owner_cannot_lock_themself_out(owner_api: httpx.Client, owner: Actor) -> None:
    deactivate = owner_api.patch(f"/api/profiles/{owner.id}", json={"is_active": False})
    assert deactivate.status_code == 409
    demote = owner_api.patch(f"/api/profiles/{owner.id}", json={"role": "agent"})
    assert demote.status_code == 409
    assert demote.json() == {"detail": "You cannot change your own role."}


def test_a_failed_part_of_an_update_changes_nothing(
    owner_api: httpx.Client, owner: Actor, uow: UnitOfWork
) -> None:
    # The role part would be a no-op; the deactivation part is refused; nothing is written.
    response = owner_api.patch(
        f"/api/profiles/{owner.id}", json={"role": "owner", "is_active": False}
    )
    assert response.status_code == 409
    with uow.session() as session:
        assert session.get(Profile, owner.id).is_active is True  # type: ignore[union-attr]


def test_patch_validation(owner_api: httpx.Client, agent: Actor) -> None:
    empty = owner_api.patch(f"/api/profiles/{agent.id}", json={})
    assert empty.status_code == 422
    assert empty.json()["detail"] == "Invalid request: body: give is_active and/or role"
    bad_id = owner_api.patch("/api/profiles/not-a-uuid", json={"is_active": True})
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0]["field"] == "profile_id"
    missing = owner_api.patch(f"/api/profiles/{uuid.uuid4()}", json={"is_active": True})
    assert missing.status_code == 404
