"""The campaign pages in a real browser: the progress bar refreshes live, the wizard saves."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from core.bootstrap import Siaran
from core.permissions import Actor
from tests.app.campaigns.conftest import Shop
from tests.app.campaigns.test_campaigns_page import running_campaign, sender_progress
from tests.app.test_browser import app_url  # noqa: F401 - fixture
from tests.conftest import choose_option, submit_sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_progress_refreshes_without_a_reload_and_the_wizard_saves_a_draft(
    app_url: str,  # noqa: F811
    browser: Browser,
    owner: Actor,
    siaran: Siaran,
    shop: Shop,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    running = running_campaign(siaran, owner, shop, "Promo berjalan")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url)
    submit_sign_in(page, owner.email)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("link", name="Campaigns", exact=True).click()
    expect(page.get_by_text("0 / 3 sent")).to_be_visible(timeout=45_000)
    assert page.url.endswith("/campaigns")

    # A sender makes progress: the bar follows within a refresh, with no reload or click.
    sender_progress(siaran, running, sent=2, failed=0)
    expect(page.get_by_text("2 / 3 sent · 12.5 msg/s")).to_be_visible(timeout=30_000)
    page.screenshot(path=tmp_path / "campaigns.png", full_page=True)

    sidebar.get_by_role("link", name="Campaign builder").click()
    expect(page.get_by_role("heading", name="Campaign builder")).to_be_visible(timeout=45_000)
    page.get_by_role("textbox", name="Campaign name").fill("Promo dari browser")
    choose_option(page, "Segment", "Pelanggan")
    expect(page.get_by_text("Who would receive it if sent now")).to_be_visible(timeout=45_000)
    page.get_by_role("button", name="Next").click()
    message = page.get_by_role("textbox", name="Message")
    message.fill("Halo {name}, promo untuk {city}!")
    message.press("Control+Enter")
    expect(page.locator(".wa-bubble")).to_contain_text("Halo Ani, promo untuk Bandung!")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("When should it go out?")).to_be_visible(timeout=45_000)
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_text("Draft 'Promo dari browser' saved.")).to_be_visible(timeout=45_000)
    assert "campaign-builder?campaign=" in page.url
    page.screenshot(path=tmp_path / "campaign-builder.png", full_page=True)
