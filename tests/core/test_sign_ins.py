"""Failed sign-ins are audited and, past a few in a short while, refused for that address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import UnitOfWork
from core.errors import AuthenticationFailed
from core.permissions import Actor
from core.sign_ins import (
    FAILED_ACTION,
    MAX_FAILURES,
    WINDOW,
    TooManyFailedSignIns,
    sign_in_limited,
)
from sql.schema import AuditLog
from tests.conftest import TEST_PASSWORD


def _sign_in(uow: UnitOfWork, email: str, password: str) -> str | None:
    """The signed-in profile's email, or None when refused as wrong (not as too many)."""
    try:
        signed_in = sign_in_limited(uow, email, password, ttl_days=1, token_name="test", via="test")
    except TooManyFailedSignIns:
        raise
    except AuthenticationFailed:
        return None
    return signed_in.profile.email


def _failures(uow: UnitOfWork, address: str) -> list[AuditLog]:
    with uow.session() as session:
        return list(
            session.scalars(
                select(AuditLog).where(
                    AuditLog.action == FAILED_ACTION, AuditLog.target_id == address
                )
            )
        )


def _age_failures(uow: UnitOfWork, by: timedelta) -> None:
    with uow.begin() as session:
        for failure in session.scalars(select(AuditLog).where(AuditLog.action == FAILED_ACTION)):
            failure.created_at -= by


def test_failures_are_audited_and_then_even_the_right_password_waits(
    uow: UnitOfWork, owner: Actor
) -> None:
    for _ in range(MAX_FAILURES):
        assert _sign_in(uow, " Owner@Example.com", "wrong") is None
    failures = _failures(uow, "owner@example.com")
    assert len(failures) == MAX_FAILURES
    assert {(f.actor_email, f.target_type, f.details["via"]) for f in failures} == {
        ("system@siaran.local", "sign_in", "test")
    }

    with pytest.raises(TooManyFailedSignIns, match="Try again in 15 minutes") as refused:
        _sign_in(uow, owner.email, TEST_PASSWORD)
    assert refused.value.status_code == 429
    assert len(_failures(uow, owner.email)) == MAX_FAILURES  # a refusal does not extend it

    _age_failures(uow, WINDOW - timedelta(minutes=2))
    with pytest.raises(TooManyFailedSignIns, match="Try again in 2 minutes"):
        _sign_in(uow, owner.email, TEST_PASSWORD)
    _age_failures(uow, timedelta(minutes=2, seconds=1))
    assert _sign_in(uow, owner.email, TEST_PASSWORD) == owner.email


def test_a_successful_sign_in_starts_the_count_again(uow: UnitOfWork, owner: Actor) -> None:
    for _ in range(MAX_FAILURES - 1):
        assert _sign_in(uow, owner.email, "wrong") is None
    assert _sign_in(uow, owner.email, TEST_PASSWORD) is not None
    for _ in range(MAX_FAILURES - 1):
        assert _sign_in(uow, owner.email, "wrong") is None
    assert _sign_in(uow, owner.email, TEST_PASSWORD) is not None


def test_unknown_addresses_are_limited_too_and_others_are_not(
    uow: UnitOfWork, owner: Actor
) -> None:
    for _ in range(MAX_FAILURES):
        assert _sign_in(uow, "nobody@example.com", TEST_PASSWORD) is None
    with pytest.raises(TooManyFailedSignIns):
        _sign_in(uow, "nobody@example.com", TEST_PASSWORD)
    assert _sign_in(uow, owner.email, TEST_PASSWORD) is not None
