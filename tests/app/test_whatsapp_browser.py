"""The WhatsApp pages in a real browser: sync with progress, a template's bubble preview."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from core.bootstrap import Siaran
from core.permissions import Actor
from core.sandbox_account import sandbox_credentials
from core.whatsapp import connect_account
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.app.test_browser import app_url  # noqa: F401 - fixture
from tests.conftest import choose_option, submit_sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(latency_ms=0, latency_jitter_ms=0)) as server:
        yield server


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_owner_syncs_and_previews_a_template(
    app_url: str,  # noqa: F811
    browser: Browser,
    owner: Actor,
    siaran: Siaran,
    sandbox: SandboxServer,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    with siaran.uow.begin() as session:
        connect_account(session, owner, siaran.secrets, sandbox_credentials(sandbox.url))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url)
    submit_sign_in(page, owner.email)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("link", name="WhatsApp account").click()
    expect(page.get_by_role("heading", name="Toko Maju")).to_be_visible(timeout=45_000)
    expect(page.get_by_text(":8800/webhook")).to_be_visible()
    page.screenshot(path=tmp_path / "whatsapp-account.png", full_page=True)

    sidebar.get_by_role("link", name="WhatsApp templates").click()
    expect(page.get_by_text("No templates yet.")).to_be_visible(timeout=45_000)
    assert page.url.endswith("/whatsapp-templates")
    page.get_by_role("button", name="Sync templates").click()
    report = page.get_by_test_id("stAlertContentSuccess")
    expect(report).to_contain_text("20 templates synced", timeout=45_000)

    choose_option(page, "Template", "konfirmasi")
    bubble = page.locator(".wa-bubble")
    expect(bubble).to_contain_text("Halo Budi", timeout=45_000)
    page.get_by_role("textbox", name="{{1}} in the body").fill("Siti")
    page.get_by_role("button", name="Preview").click()
    expect(bubble).to_contain_text("Halo Siti", timeout=45_000)
    page.screenshot(path=tmp_path / "whatsapp-templates.png", full_page=True)
