"""Fixtures for the sandbox: a real server on a free port, plain httpx, a webhook receiver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer
from tests.sandbox.helpers import Receiver, client_for, fast_config


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.server.start()
    yield receiver
    receiver.server.stop()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Start a sandbox with ``fast_config(**overrides)``; stopped after the test."""
    started: list[SandboxServer] = []

    def start(**overrides: Any) -> SandboxServer:
        server = SandboxServer(fast_config(**overrides))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return make_sandbox()


@pytest.fixture
def graph(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """An authenticated client for the Graph paths of ``sandbox``."""
    with client_for(sandbox) as client:
        yield client
