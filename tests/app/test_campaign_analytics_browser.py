"""The Campaign analytics page in a real browser: figures, charts and export buttons render."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from core.db import UnitOfWork
from core.permissions import Actor
from tests.app.test_browser import app_url  # noqa: F401 - fixture
from tests.conftest import submit_sign_in
from tests.core.analytics import scenario

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_analytics_page_renders_figures_and_charts(
    app_url: str,  # noqa: F811
    browser: Browser,
    owner: Actor,
    uow: UnitOfWork,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    shop = scenario.build(uow)
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(app_url)
    submit_sign_in(page, owner.email)
    page.get_by_test_id("stSidebar").get_by_role("link", name="Campaign analytics").click()
    expect(page.get_by_role("heading", name="Campaign analytics")).to_be_visible(timeout=45_000)
    # The latest launched campaign is shown, and its id goes into the address.
    page.wait_for_url(f"**/campaign-analytics?campaign={shop.campaign_id}", timeout=45_000)
    expect(page.get_by_role("heading", name="Promo Ramadan")).to_be_visible(timeout=45_000)
    metrics = page.get_by_test_id("stMetric")
    expect(metrics.filter(has_text="Open rate").first).to_contain_text("50.0%")
    expect(metrics.filter(has_text="Median time to reply").first).to_contain_text("2 h")
    # Four Altair charts: status, timeline, hour of day, time to reply.
    expect(page.locator(".vega-embed")).to_have_count(4, timeout=45_000)
    expect(page.get_by_role("button", name="Retry all retryable (1)")).to_be_enabled()
    expect(page.get_by_test_id("stDownloadButton")).to_have_count(6)
    page.screenshot(path=tmp_path / "campaign-analytics.png", full_page=True)
