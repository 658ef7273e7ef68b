"""A fresh demo connects the bundled sandbox and syncs its templates; nothing else is touched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from core.bootstrap import Siaran
from core.errors import InvalidInput, PermissionDenied
from core.permissions import Actor
from core.sandbox_account import (
    connect_sandbox_if_unconnected,
    sandbox_credentials,
    simulate_customer_message,
)
from core.whatsapp import connect_account
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from sql.schema import AuditLog, WhatsAppAccount, WhatsAppTemplate


def _fast() -> SandboxConfig:
    return SandboxConfig(latency_ms=0, latency_jitter_ms=0)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(_fast()) as server:
        yield server


def test_a_fresh_demo_gets_the_sandbox_account_and_its_templates(
    siaran: Siaran, sandbox: SandboxServer
) -> None:
    setup = connect_sandbox_if_unconnected(siaran, sandbox.url)

    assert setup is not None
    remote = len(sandbox.state.templates)
    assert (setup.sync.fetched, setup.sync.created) == (remote, remote)
    assert str(setup).startswith("WhatsApp sandbox account connected (Toko Maju +62 811-0000-0000)")
    with siaran.uow.session() as session:
        account = session.scalars(select(WhatsAppAccount)).one()
        assert (account.is_active, account.is_sandbox) == (True, True)
        assert account.api_base_url == sandbox.url
        assert siaran.secrets.decrypt(account.app_secret_encrypted) == SandboxConfig().app_secret
        assert session.scalar(select(func.count()).select_from(WhatsAppTemplate)) == remote
        audited = session.execute(select(AuditLog.action, AuditLog.actor_role)).all()
        assert ("whatsapp_account.connect", "system") in audited
        assert ("whatsapp_template.sync", "system") in audited


def test_nothing_happens_when_an_account_is_connected(
    siaran: Siaran, owner: Actor, sandbox: SandboxServer
) -> None:
    real = sandbox_credentials(sandbox.url).model_copy(update={"is_sandbox": False})
    with siaran.uow.begin() as session:
        connect_account(session, owner, siaran.secrets, real)

    assert connect_sandbox_if_unconnected(siaran, sandbox.url) is None
    with siaran.uow.session() as session:
        assert session.scalars(select(WhatsAppAccount.is_sandbox)).all() == [False]
        assert session.scalar(select(func.count()).select_from(WhatsAppTemplate)) == 0


def test_running_twice_changes_nothing_the_second_time(
    siaran: Siaran, sandbox: SandboxServer
) -> None:
    assert connect_sandbox_if_unconnected(siaran, sandbox.url) is not None
    assert connect_sandbox_if_unconnected(siaran, sandbox.url) is None
    with siaran.uow.session() as session:
        assert session.scalar(select(func.count()).select_from(WhatsAppAccount)) == 1


def test_a_sandbox_account_on_an_old_port_is_re_pointed(
    siaran: Siaran, sandbox: SandboxServer
) -> None:
    connect_sandbox_if_unconnected(siaran, sandbox.url)
    with SandboxServer(_fast()) as moved:
        setup = connect_sandbox_if_unconnected(siaran, moved.url)
        assert setup is not None
        assert (setup.sync.created, setup.sync.updated, setup.sync.removed) == (0, 0, 0)
    with siaran.uow.session() as session:
        account = session.scalars(select(WhatsAppAccount)).one()
        assert account.api_base_url == moved.url


def test_an_owner_writes_as_a_customer_through_the_sandbox(
    siaran: Siaran, owner: Actor, sandbox: SandboxServer
) -> None:
    connect_sandbox_if_unconnected(siaran, sandbox.url)

    message_id = simulate_customer_message(siaran, owner, "0812-3456-7890", " BERHENTI ")

    assert sandbox.state.inbound_ids[message_id] == "6281234567890"
    with siaran.uow.session() as session:
        entry = session.scalars(
            select(AuditLog).where(AuditLog.action == "sandbox.simulate_inbound")
        ).one()
    assert entry.actor_email == owner.email
    assert entry.details == {
        "phone": "+6281234567890", "text": "BERHENTI", "message_id": message_id
    }  # fmt: skip


def test_simulating_a_customer_refuses_what_it_cannot_do(
    siaran: Siaran, owner: Actor, supervisor: Actor, sandbox: SandboxServer
) -> None:
    with pytest.raises(InvalidInput, match="only be simulated with the sandbox connected"):
        simulate_customer_message(siaran, owner, "+6281234567890", "Halo")
    connect_sandbox_if_unconnected(siaran, sandbox.url)
    with pytest.raises(PermissionDenied):
        simulate_customer_message(siaran, supervisor, "+6281234567890", "Halo")
    with pytest.raises(InvalidInput, match="not a valid phone number"):
        simulate_customer_message(siaran, owner, "12", "Halo")
    with pytest.raises(InvalidInput, match="Write the customer's message"):
        simulate_customer_message(siaran, owner, "+6281234567890", "   ")
    assert not sandbox.state.inbound_ids
    with siaran.uow.session() as session:
        actions = session.scalars(select(AuditLog.action)).all()
    assert "sandbox.simulate_inbound" not in actions
