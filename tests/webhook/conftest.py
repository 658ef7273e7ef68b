"""A real uvicorn server in a thread per test, on a free port, over the ``siaran`` fixture.

So every API test runs over real HTTP on SQLite and on PostgreSQL. ``owner_api``,
``supervisor_api`` and ``agent_api`` are httpx clients already carrying a bearer token.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from core.bootstrap import Siaran
from core.db import UnitOfWork
from core.permissions import Actor
from core.profiles import issue_token
from sql.schema import Profile
from tests.conftest import tls_context
from webhook.server import create_app


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 at a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[FastAPI], str]]:
    """Start any app (e.g. one over a broken database); each is stopped after the test."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(running(app))


@pytest.fixture
def app(siaran: Siaran) -> FastAPI:
    return create_app(siaran)


@pytest.fixture
def base_url(app: FastAPI, serve: Callable[[FastAPI], str]) -> str:
    return serve(app)


@pytest.fixture
def client_for(base_url: str) -> Iterator[Callable[[str | None], httpx.Client]]:
    """Make a client for the running server, signed in with ``token`` when given."""
    clients: list[httpx.Client] = []

    def make(token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=base_url, headers=headers, timeout=10, verify=tls_context())
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def api(client_for: Callable[[str | None], httpx.Client]) -> httpx.Client:
    """An anonymous client."""
    return client_for(None)


def token_for(uow: UnitOfWork, actor: Actor) -> str:
    with uow.begin() as session:
        profile = session.get(Profile, actor.id)
        assert profile is not None
        return issue_token(session, profile, name="test")


@pytest.fixture
def owner_token(uow: UnitOfWork, owner: Actor) -> str:
    return token_for(uow, owner)


@pytest.fixture
def supervisor_token(uow: UnitOfWork, supervisor: Actor) -> str:
    return token_for(uow, supervisor)


@pytest.fixture
def agent_token(uow: UnitOfWork, agent: Actor) -> str:
    return token_for(uow, agent)


@pytest.fixture
def owner_api(client_for: Callable[[str | None], httpx.Client], owner_token: str) -> httpx.Client:
    return client_for(owner_token)


@pytest.fixture
def supervisor_api(
    client_for: Callable[[str | None], httpx.Client], supervisor_token: str
) -> httpx.Client:
    return client_for(supervisor_token)


@pytest.fixture
def agent_api(client_for: Callable[[str | None], httpx.Client], agent_token: str) -> httpx.Client:
    return client_for(agent_token)
