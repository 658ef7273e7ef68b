"""Fixtures for the sender tests: async tests run on asyncio (aiohttp needs it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core.bootstrap import Siaran
from sandbox import SandboxServer
from sql.schema import WhatsAppAccount
from tests.sender.harness import Confirmer, FaultProxy, Rig, sandbox_config


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- the send loop: a sandbox, a webhook confirmer, an account (see tests/sender/harness.py)


@pytest.fixture
def confirmer(siaran: Siaran) -> Iterator[Confirmer]:
    confirmer = Confirmer(siaran)
    confirmer.server.start()
    yield confirmer
    confirmer.server.stop()


@pytest.fixture
def make_rig(siaran: Siaran, confirmer: Confirmer) -> Iterator[Callable[..., Rig]]:
    """``make_rig(throughput=..., **sandbox overrides)``: a sandbox and an account on it."""
    servers: list[SandboxServer] = []

    def make(throughput: int = 1000, **overrides: Any) -> Rig:
        overrides.setdefault("webhooks", {"url": confirmer.url})
        server = SandboxServer(sandbox_config(**overrides))
        server.start()
        servers.append(server)
        return Rig(siaran, server, throughput)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


@pytest.fixture
def proxy(rig: Rig) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of ``rig``'s sandbox; the account now sends through it."""
    proxy = FaultProxy(rig.sandbox.url)
    proxy.server.start()
    with rig.siaran.uow.begin() as session:
        account = session.get(WhatsAppAccount, rig.account_id)
        assert account is not None
        account.api_base_url = proxy.url
    yield proxy
    proxy.server.stop()


def tune(siaran: Siaran, **settings: Any) -> None:
    """Change settings for this test (the sender reads them from ``siaran.settings``)."""
    siaran.settings = siaran.settings.model_copy(update=settings)
