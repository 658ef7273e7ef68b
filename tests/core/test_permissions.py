"""Each role's permissions at the service layer, and the audit record every write leaves."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import UnitOfWork
from core.errors import AuthenticationFailed, Conflict, PermissionDenied, TokenEnded
from core.permissions import GRANTS, Actor, Permission, Role, require
from core.profiles import (
    actor_for_app_session,
    actor_for_token,
    authenticate,
    create_profile,
    issue_token,
    list_profiles,
    revoke_token,
    set_active,
)
from sql.schema import AuditLog, Profile
from tests.conftest import TEST_PASSWORD


def test_owner_may_do_everything() -> None:
    owner = Actor(id=None, email="o@x", role=Role.OWNER)
    for permission in Permission:
        require(owner, permission)


def test_supervisor_reads_campaigns_and_analytics_but_writes_nothing() -> None:
    supervisor = Actor(id=None, email="s@x", role=Role.SUPERVISOR)
    for permission in (Permission.CAMPAIGN_READ, Permission.ANALYTICS_READ):
        require(supervisor, permission)
    for permission in Permission:
        if permission.value.endswith((":write", ":manage")):
            with pytest.raises(PermissionDenied, match="supervisor"):
                require(supervisor, permission)
    assert not supervisor.can(Permission.PHONE_UNMASKED)


def test_agent_has_nothing_of_the_campaign_features() -> None:
    assert GRANTS[Role.AGENT] == frozenset()
    agent = Actor(id=None, email="a@x", role=Role.AGENT)
    with pytest.raises(PermissionDenied, match=r"agent\) may not view campaigns"):
        require(agent, Permission.CAMPAIGN_READ)


def test_only_owners_create_profiles_and_nothing_is_written_otherwise(
    uow: UnitOfWork, owner: Actor, supervisor: Actor, agent: Actor
) -> None:
    for actor in (supervisor, agent):
        with pytest.raises(PermissionDenied), uow.begin() as session:
            create_profile(
                session, actor, email="x@example.com", full_name="X", role="agent",
                password=TEST_PASSWORD,
            )  # fmt: skip
    with uow.session() as session:
        assert session.scalar(select(Profile).where(Profile.email == "x@example.com")) is None
        with pytest.raises(PermissionDenied):
            list_profiles(session, supervisor)


def test_every_write_leaves_an_audit_record_with_the_actor(uow: UnitOfWork, owner: Actor) -> None:
    with uow.begin() as session:
        created = create_profile(
            session, owner, email="New@Example.com", full_name="New", role="supervisor",
            password=TEST_PASSWORD,
        )  # fmt: skip
        created_id = created.id
    with uow.begin() as session:
        set_active(session, owner, created_id, False)
    with uow.session() as session:
        rows = session.scalars(
            select(AuditLog)
            .where(AuditLog.target_id == str(created_id))
            .order_by(AuditLog.created_at)
        ).all()
    assert [(r.action, r.actor_email, r.actor_role) for r in rows] == [
        ("profile.create", "owner@example.com", "owner"),
        ("profile.deactivate", "owner@example.com", "owner"),
    ]
    assert rows[0].details == {"email": "new@example.com", "role": "supervisor"}


def test_duplicate_email_is_a_conflict(uow: UnitOfWork, owner: Actor) -> None:
    with pytest.raises(Conflict, match="already exists"), uow.begin() as session:
        create_profile(
            session, owner, email="OWNER@example.com", full_name="Again", role="owner",
            password=TEST_PASSWORD,
        )  # fmt: skip


def test_sign_in_and_tokens(uow: UnitOfWork, owner: Actor) -> None:
    with uow.begin() as session:
        with pytest.raises(AuthenticationFailed):
            authenticate(session, "owner@example.com", "wrong-password")
        profile = authenticate(session, " Owner@Example.com ", TEST_PASSWORD)
        token = issue_token(session, profile, name="cli", ttl_days=1)
    with uow.begin() as session:
        assert actor_for_token(session, token) == owner
        revoke_token(session, owner, token)
    with uow.session() as session, pytest.raises(AuthenticationFailed, match="revoked"):
        actor_for_token(session, token)


def test_an_app_session_says_whether_it_ended_or_expired(uow: UnitOfWork, owner: Actor) -> None:
    with uow.begin() as session:
        profile = authenticate(session, owner.email, TEST_PASSWORD)
        ended = issue_token(session, profile, name="app session")
        expired = issue_token(session, profile, name="app session", ttl_days=-1)
    with uow.begin() as session:
        assert actor_for_app_session(session, ended) == owner
        revoke_token(session, owner, ended)
    with uow.session() as session:
        # Signed out or never issued: nothing to tell the user, so a distinct error.
        for token in (ended, "sk_siaran_not-a-token"):
            with pytest.raises(TokenEnded):
                actor_for_app_session(session, token)
        with pytest.raises(AuthenticationFailed, match="session has expired") as raised:
            actor_for_app_session(session, expired)
        assert not isinstance(raised.value, TokenEnded)


def test_deactivated_profile_cannot_sign_in(uow: UnitOfWork, owner: Actor, agent: Actor) -> None:
    with uow.begin() as session:
        set_active(session, owner, agent.id, False)
    with uow.session() as session, pytest.raises(AuthenticationFailed):
        authenticate(session, "agent@example.com", TEST_PASSWORD)
