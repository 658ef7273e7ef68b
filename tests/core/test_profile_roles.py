"""Signing in with a token, changing roles, and not revealing which emails have accounts."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from core import profiles
from core.db import UnitOfWork
from core.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, PermissionDenied
from core.permissions import Actor, Role
from sql.schema import AuditLog, Profile
from sql.types import utcnow
from tests.conftest import TEST_PASSWORD


def test_sign_in_issues_a_token_that_resolves_to_the_actor(
    uow: UnitOfWork, supervisor: Actor
) -> None:
    with uow.begin() as session:
        signed_in = profiles.sign_in(session, "Supervisor@Example.com", TEST_PASSWORD, ttl_days=3)
    assert timedelta(days=2) < signed_in.expires_at - utcnow() <= timedelta(days=3)
    with uow.session() as session:
        assert profiles.actor_for_token(session, signed_in.token) == supervisor
        profile = session.get(Profile, supervisor.id)
        assert profile is not None and profile.last_login_at is not None
        issued = session.scalars(select(AuditLog).where(AuditLog.action == "token.issue")).one()
        assert (issued.actor_id, issued.details) == (supervisor.id, {"name": "login"})


def test_unknown_email_costs_a_password_check_like_a_known_one(
    uow: UnitOfWork, owner: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = profiles.verify_password

    def spy(stored: str, password: str) -> bool:
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(profiles, "verify_password", spy)
    with uow.session() as session:
        for email in ("nobody@example.com", "owner@example.com"):
            with pytest.raises(AuthenticationFailed, match="Wrong email or password"):
                profiles.authenticate(session, email, "wrong-password")
    assert len(checked) == 2
    assert all(stored.startswith("$argon2") for stored in checked)


def test_owner_changes_a_role_with_an_audit_record(
    uow: UnitOfWork, owner: Actor, agent: Actor
) -> None:
    with uow.begin() as session:
        profiles.set_role(session, owner, agent.id, "supervisor")
    with uow.session() as session:
        assert session.get(Profile, agent.id).role == Role.SUPERVISOR  # type: ignore[union-attr]
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "profile.role")).one()
        assert (entry.actor_id, entry.target_id) == (owner.id, str(agent.id))
        assert entry.details == {"from": "agent", "to": "supervisor"}


def test_setting_the_same_role_writes_nothing(uow: UnitOfWork, owner: Actor, agent: Actor) -> None:
    with uow.begin() as session:
        profiles.set_role(session, owner, agent.id, "agent")
    with uow.session() as session:
        assert (
            session.scalars(select(AuditLog).where(AuditLog.action == "profile.role")).all() == []
        )


def test_role_change_refusals(
    uow: UnitOfWork, owner: Actor, supervisor: Actor, agent: Actor
) -> None:
    with uow.session() as session:
        with pytest.raises(PermissionDenied):
            profiles.set_role(session, supervisor, agent.id, "owner")
        with pytest.raises(Conflict, match="your own role"):
            profiles.set_role(session, owner, owner.id, "agent")
        with pytest.raises(InvalidInput, match="role must be"):
            profiles.set_role(session, owner, agent.id, "system")
        with pytest.raises(NotFound):
            profiles.set_role(session, owner, uuid.uuid4(), "agent")
