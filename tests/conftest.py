"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL: a fresh database per test session (per xdist worker) on the server at
``SIARAN_TEST_PG_URL`` (default the local server), migrated once and emptied after each
test. When ``CI`` is set and the server is unreachable the suite fails instead of skipping.
SQLite: a migrated template file copied for every test.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from core import security
from core.bootstrap import Siaran
from core.db import UnitOfWork, make_engine
from core.permissions import SYSTEM_ACTOR, Actor
from core.profiles import actor_of, create_profile
from core.settings import Settings
from sql.migrate import upgrade
from sql.schema import metadata

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

PG_URL = os.environ.get(
    "SIARAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ENGINES = ["sqlite", "postgresql"]
TEST_PASSWORD = "correct-horse-battery"


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every test client (``verify=``), built once.

    httpx loads the CA bundle for each new client, about 50 ms, which the hundreds of
    clients the tests make would pay every time; their servers are plain HTTP anyway.
    """
    return ssl.create_default_context()


def _database_url(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2 with minimal cost: the tests check behaviour, not the hash's strength."""
    saved = security._hasher
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    security._hasher = saved


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"siaran_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with server.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        server.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} is unreachable in CI: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}")
    url = _database_url(PG_URL, name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def _empty_postgres(engine: Engine) -> None:
    # DELETE beats TRUNCATE by far on the handful of rows a test leaves behind.
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database URL on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "siaran.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_database_url")
    yield url
    engine = make_engine(url)
    _empty_postgres(engine)
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(env="test", data_dir=tmp_path / "data", database_url=db_url)


@pytest.fixture
def siaran(settings: Settings, engine: Engine) -> Siaran:
    return Siaran(settings=settings, engine=engine)


@pytest.fixture
def uow(siaran: Siaran) -> UnitOfWork:
    return siaran.uow


def _make_actor(uow: UnitOfWork, role: str) -> Actor:
    with uow.begin() as session:
        profile = create_profile(
            session,
            SYSTEM_ACTOR,
            email=f"{role}@example.com",
            full_name=f"Test {role.title()}",
            role=role,
            password=TEST_PASSWORD,
        )
        return actor_of(profile)


@pytest.fixture
def owner(uow: UnitOfWork) -> Actor:
    return _make_actor(uow, "owner")


@pytest.fixture
def supervisor(uow: UnitOfWork) -> Actor:
    return _make_actor(uow, "supervisor")


@pytest.fixture
def agent(uow: UnitOfWork) -> Actor:
    return _make_actor(uow, "agent")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's chromium driven by Playwright (``.ci/run`` installs it when missing)."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed", pytrace=False)
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def submit_sign_in(page: Page, email: str, password: str = TEST_PASSWORD) -> None:
    """Fill in the app's sign-in form and press Sign in, as a user does."""
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def choose_option(scope: Page | Locator, label: str, text: str) -> None:
    """Pick the option starting with ``text`` in a select box or multiselect, as a user does.

    Enter takes the first option once the typed text has filtered the list; waiting for
    that first (rather than pressing Enter at once, or clicking an option the list may
    re-draw) keeps it right on a busy machine. A rerun that lands while the list is open
    closes it, so a user (and this helper) opens it again.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import expect

    box = scope.get_by_role("combobox", name=label, exact=True)
    page = scope if hasattr(scope, "keyboard") else scope.page
    first = page.get_by_role("option").first
    for attempt in range(4):
        box.click()
        box.fill(text)
        try:
            expect(first).to_have_text(re.compile("^" + re.escape(text)), timeout=15_000)
        except (AssertionError, PlaywrightTimeoutError):
            if attempt == 3:
                raise
            box.press("Escape")
            continue
        box.press("Enter")
        return
