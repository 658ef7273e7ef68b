"""The app shell in a real browser: the real Streamlit server, sign-in, navigation, sign-out."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from app.auth import SESSION_COOKIE
from core.db import UnitOfWork
from core.errors import TokenEnded
from core.permissions import Actor
from core.profiles import actor_for_app_session
from core.settings import PROJECT_ROOT
from tests.conftest import TEST_PASSWORD, submit_sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Cookie

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def app_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """``streamlit run app/main.py`` as ``siaran up`` starts it, on a free port."""
    port = _free_port()
    env = dict(
        os.environ,
        DATABASE_URL=db_url,
        SIARAN_DATA_DIR=str(tmp_path / "data"),
        SIARAN_ENV="test",
    )
    log = (tmp_path / "streamlit.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "app" / "main.py"),
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true"],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail((tmp_path / "streamlit.log").read_text())
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
        log.close()


# One engine is enough here: the AppTest suite covers both; this proves the real server.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sign_in_navigate_and_sign_out(
    app_url: str, browser: Browser, owner: Actor, agent: Actor, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    # A link to a page, followed while signed out, opens that page once signed in.
    page.goto(f"{app_url}/contacts")
    submit_sign_in(page, owner.email, "wrong-password")
    expect(page.get_by_text("Wrong email or password.")).to_be_visible(timeout=45_000)

    page.get_by_role("textbox", name="Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Contacts")).to_be_visible(timeout=45_000)
    assert page.url.endswith("/contacts")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Test Owner")).to_be_visible()
    for title in ("Home", "Audit log"):
        sidebar.get_by_role("link", name=title).click()
        expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=45_000)
    assert page.url.endswith("/audit-log")
    page.screenshot(path=tmp_path / "owner-audit-log.png")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=45_000)

    submit_sign_in(page, agent.email)
    expect(page.get_by_role("heading", name="No access")).to_be_visible(timeout=45_000)
    expect(page.get_by_role("link", name="Contacts")).to_have_count(0)
    page.screenshot(path=tmp_path / "agent-no-access.png")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_reloading_or_opening_a_new_tab_stays_signed_in_until_signing_out(
    app_url: str, browser: Browser, owner: Actor, uow: UnitOfWork
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{app_url}/audit-log")
    submit_sign_in(page, owner.email)
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible(timeout=45_000)
    cookie = _session_cookie(context)
    heading = page.get_by_role("heading", name="Audit log")
    top = heading.bounding_box()
    assert cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert cookie["expires"] > time.time() + 6 * 86_400  # a week, not the browser session

    page.reload()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible(timeout=45_000)
    assert heading.bounding_box() == top  # setting the cookie takes no room on the page
    other = context.new_page()
    other.goto(f"{app_url}/contacts")
    expect(other.get_by_role("heading", name="Contacts")).to_be_visible(timeout=45_000)
    # The cookie holds the session's token, which the core resolves to the owner.
    with uow.session() as session:
        assert actor_for_app_session(session, cookie["value"]) == owner

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=45_000)
    _wait_for_no_session_cookie(context)
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=45_000)
    # Signing out ended the session in the other tab too, at its next click.
    other.get_by_test_id("stSidebar").get_by_role("link", name="Home").click()
    expect(other.get_by_text("This session was revoked (signed out).")).to_be_visible(
        timeout=45_000
    )
    with uow.session() as session, pytest.raises(TokenEnded):
        actor_for_app_session(session, cookie["value"])
    context.close()


def _session_cookie(context: BrowserContext) -> Cookie:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for cookie in context.cookies():
            if cookie["name"] == SESSION_COOKIE:
                return cookie
        time.sleep(0.2)
    pytest.fail("the app set no session cookie")


def _wait_for_no_session_cookie(context: BrowserContext) -> None:
    """The page's script clears the cookie just after the sign-in form shows: wait for it."""
    deadline = time.monotonic() + 30
    while SESSION_COOKIE in {cookie["name"] for cookie in context.cookies()}:
        if time.monotonic() > deadline:
            pytest.fail("signing out left the session cookie in the browser")
        time.sleep(0.2)
