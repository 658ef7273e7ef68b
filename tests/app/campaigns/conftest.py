"""Fixtures for the campaign pages: a shop with customers in a segment, and the sandbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from streamlit.testing.v1 import AppTest

from core.bootstrap import Siaran
from core.db import UnitOfWork
from core.permissions import Actor
from core.sandbox_account import sandbox_credentials
from core.sending import stop_local_drivers
from core.whatsapp import connect_account, sync_templates
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.core.campaigns import builders


@dataclass
class Shop:
    """Ids of what a campaign page test starts from."""

    segment_id: uuid.UUID
    contacts: dict[str, uuid.UUID]


@pytest.fixture(autouse=True)
def _no_dagster(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """ "Send now" sends from the test process (no Dagster webserver here); stop it after."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("SIARAN_DAGSTER_URL", raising=False)
    yield
    stop_local_drivers(timeout=10)


def add_customers(uow: UnitOfWork, segment: str = "Pelanggan setia") -> Shop:
    with uow.begin() as session:
        people = [
            builders.contact(session, "Ani", "+6281100000001", city="Bandung"),
            builders.contact(session, "Budi", "+6281100000002", city="Jakarta"),
            builders.contact(session, "Citra", "+6281100000003", city="Medan"),
            builders.contact(session, "Dedi", "+6281100000004"),
        ]
        builders.opt_out(session, people[2])
        chosen = builders.static_segment(session, segment, people)
        return Shop(chosen.id, {c.name: c.id for c in people})


@pytest.fixture
def shop(siaran: Siaran, uow: UnitOfWork) -> Shop:
    """Four customers in a static segment (Citra opted out, Dedi without a city) and an
    account (not reachable: nothing is sent)."""
    with uow.begin() as session:
        builders.account(session, siaran.secrets)
    return add_customers(uow)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(latency_ms=0, latency_jitter_ms=0)) as server:
        yield server


@pytest.fixture
def sandbox_shop(siaran: Siaran, uow: UnitOfWork, owner: Actor, sandbox: SandboxServer) -> Shop:
    """The same customers, with the sandbox connected as the account and its templates synced."""
    with uow.begin() as session:
        connect_account(session, owner, siaran.secrets, sandbox_credentials(sandbox.url))
    with uow.begin() as session:
        sync_templates(session, owner, siaran.secrets)
    return add_customers(uow)


def open_page(signed_in: Callable[[str], AppTest], email: str, script: str) -> AppTest:
    at = signed_in(email)
    at.switch_page(f"views/{script}").run()
    assert not at.exception, at.exception
    return at
