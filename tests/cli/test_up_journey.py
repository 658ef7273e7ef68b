"""The owner's whole journey, in a real browser, on what ``siaran up`` starts from nothing.

``siaran up`` runs as a user runs it (its own data folder, the embedded SQLite database,
demo data, the WhatsApp sandbox, the HTTP server, the app and Dagster) and nothing is set
up by hand: the owner builds a segment, a template campaign with variables, sends a test,
sends it now (a Dagster run delivers it), pauses and resumes it, watches the sandbox's
webhooks fill in the analytics, exports the report, plays a customer who replies
"BERHENTI" (the sandbox's "Try it as a customer" form) and finds them among the
opt-outs. Then a supervisor looks without being able to change anything, and an agent is
shown the door.

Every step leaves a screenshot in ``test-artifacts/journey/``; with ``SIARAN_UPDATE_TOUR=1``
the README's tour pictures (``docs/tour/``) are replaced by this run's. Figures on the pages
are checked against the database ``siaran up`` created.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from core.phones import mask_phone
from core.settings import PROJECT_ROOT
from sql.demo_data import DEMO_PASSWORD
from sql.schema import Campaign, CampaignMessage, Contact, ContactLabel, ContactPreference, Label
from tests.conftest import choose_option, submit_sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "journey"
UP_TIMEOUT = 240  # seconds for the first start: migrate, seed, five servers
T = 60_000  # ms a page may take to show something (the machine may be busy)
OWNER = "owner@demo.siaran.id"
SUPERVISOR = "supervisor@demo.siaran.id"
AGENT = "agent@demo.siaran.id"
SEGMENT = "Pelanggan VIP"
CAMPAIGN = "Flash sale VIP"
TEST_PHONE = "+62 812 3456 7890"
TOUR = PROJECT_ROOT / "docs" / "tour"
#: Journey steps whose screenshot illustrates the README's tour, and the picture's name.
TOUR_PICTURES = {
    "segment-live-preview": "segment",
    "builder-template-variables": "template",
    "builder-test-sent": "review",
    "campaign-sending": "sending",
    "analytics": "analytics",
    "customer-replies-berhenti": "customer",
    "opt-outs": "opt-outs",
    "dagster-runs": "dagster",
    "supervisor-campaigns": "supervisor",
}


@dataclass(frozen=True)
class Up:
    """A running ``siaran up`` and where its parts listen."""

    app: str
    api: str
    sandbox: str
    dagster: str
    engine: Engine


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture
def siaran_up(tmp_path: Path) -> Iterator[Up]:
    """``siaran up`` on a fresh data folder, as a new user runs it, until it says it is up."""
    api, app, dagster, sandbox = _free_ports(4)
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DAGSTER_HOME")}
    env |= {
        "SIARAN_ENV": "demo",
        "SIARAN_DATA_DIR": str(data),
        "SIARAN_DEMO_CONTACTS": "400",
        "SIARAN_API_PORT": str(api),
        "SIARAN_APP_PORT": str(app),
        "SIARAN_DAGSTER_PORT": str(dagster),
        "SIARAN_SANDBOX_PORT": str(sandbox),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "siaran-up.log"
    log_path.unlink(missing_ok=True)  # a new file, whatever an earlier run left writing
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "up"],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + UP_TIMEOUT
            while b"Siaran is up." not in log_path.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"siaran up did not start:\n{log_path.read_text()[-5000:]}")
                time.sleep(0.5)
            for health in (f"http://127.0.0.1:{app}/_stcore/health",
                           f"http://127.0.0.1:{api}/healthz"):  # fmt: skip
                wait_for(lambda url=health: _answers(url), 60, f"{health} to answer")
            engine = create_engine(f"sqlite:///{data / 'siaran.db'}")
            yield Up(
                app=f"http://127.0.0.1:{app}",
                api=f"http://127.0.0.1:{api}",
                sandbox=f"http://127.0.0.1:{sandbox}",
                dagster=f"http://127.0.0.1:{dagster}",
                engine=engine,
            )
            engine.dispose()
        finally:
            process.send_signal(signal.SIGINT)  # what Ctrl-C does: up stops every part
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class Journey:
    """The browser tab and the numbered screenshots of one journey."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.shots = 0
        for old in ARTIFACTS.glob("*.png"):
            old.unlink()

    def shot(self, name: str, page: Page | None = None) -> None:
        self.shots += 1
        path = ARTIFACTS / f"{self.shots:02d}-{name}.png"
        (page or self.page).screenshot(path=path)
        if name in TOUR_PICTURES and os.environ.get("SIARAN_UPDATE_TOUR") == "1":
            save_tour_picture(path, TOUR / f"{TOUR_PICTURES[name]}.png")

    def sign_in(self, email: str) -> None:
        page = self.page
        submit_sign_in(page, email, DEMO_PASSWORD)
        page.get_by_role("button", name="Sign out").wait_for(timeout=T)

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        self.page.get_by_role("button", name="Sign in").wait_for(timeout=T)

    def open(self, title: str) -> None:
        from playwright.sync_api import expect

        self.page.get_by_test_id("stSidebar").get_by_role("link", name=title, exact=True).click()
        expect(self.heading(title)).to_be_visible(timeout=T)

    def heading(self, name: str) -> Locator:
        return self.page.get_by_role("heading", name=name, exact=True)

    def metric(self, label: str) -> int:
        card = self.page.get_by_test_id("stMetric").filter(has_text=label).first
        value = card.get_by_test_id("stMetricValue").inner_text()
        return int(re.sub(r"[^\d]", "", value))


def save_tour_picture(screenshot: Path, target: Path) -> None:
    """The screenshot in 256 colours: the same to the eye, under half the bytes in git."""
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    image = Image.open(screenshot).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)


def variable(page: Page, label: str) -> Locator:
    """The bordered box where one template variable is mapped."""
    return page.get_by_test_id("stVerticalBlock").filter(has_text=label).last


def fixed_value(page: Page, label: str, value: str) -> None:
    box = variable(page, label)
    box.get_by_text("Fixed value", exact=True).click()
    field = box.get_by_role("textbox", name="Fixed value")
    field.fill(value)
    field.press("Tab")


def campaign_card(page: Page, name: str) -> Locator:
    return (
        page.get_by_test_id("stVerticalBlock")
        .filter(has=page.get_by_text(name, exact=True))
        .filter(has=page.get_by_role("link", name="Results"))
        .last
    )


def counts(engine: Engine, campaign_id: uuid.UUID) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            select(
                Campaign.status,
                Campaign.total_recipients,
                Campaign.sent_count,
                Campaign.delivered_count,
                Campaign.read_count,
                Campaign.replied_count,
            ).where(Campaign.id == campaign_id)
        ).one()
    return dict(row._mapping)


def sandbox_messages(up: Up, to: str | None = None) -> list[dict[str, Any]]:
    params = {"limit": 10_000} | ({"to": to} if to else {})
    answer = httpx.get(f"{up.sandbox}/_sandbox/messages", params=params, timeout=10)
    answer.raise_for_status()
    return list(answer.json()["data"])


def wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_the_owner_journey_on_a_fresh_siaran_up(siaran_up: Up, browser: Browser) -> None:
    from playwright.sync_api import expect

    up = siaran_up
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    journey = Journey(page)
    page.goto(up.app)
    expect(page.get_by_text(f"sign in as {OWNER}")).to_be_visible(timeout=T)
    journey.shot("sign-in")
    journey.sign_in(OWNER)
    expect(journey.heading("Home")).to_be_visible(timeout=T)
    journey.shot("home")

    # --- a segment, with its live preview -----------------------------------------------------
    journey.open("Segments")
    page.get_by_role("button", name="New segment").click()
    page.get_by_role("textbox", name="Name").first.fill(SEGMENT)
    page.get_by_role("button", name="Add condition").first.click()
    choose_option(page, "Labels", "vip")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("stMetric").filter(has_text="Matching")).to_be_visible(timeout=T)
    with up.engine.connect() as conn:
        vip = conn.scalar(
            select(func.count(ContactLabel.contact_id.distinct()))
            .join(Label, Label.id == ContactLabel.label_id)
            .where(Label.name == "vip")
        )
    expect(page.get_by_test_id("stMetric").filter(has_text="Matching").first).to_contain_text(
        str(vip), timeout=T
    )
    journey.shot("segment-live-preview")
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_text(f'Segment "{SEGMENT}" created')).to_be_visible(timeout=T)
    journey.shot("segment-saved")

    # --- the campaign builder: audience, template with variables, rate, review ----------------
    journey.open("Campaign builder")
    page.get_by_role("textbox", name="Campaign name").fill(CAMPAIGN)
    choose_option(page, "Segment", SEGMENT)
    expect(page.get_by_text("Who would receive it if sent now")).to_be_visible(timeout=T)
    recipients = journey.metric("Would receive")
    assert recipients == vip  # nobody opted out or in cooldown yet
    journey.shot("builder-audience")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("radiogroup", name="Message type").get_by_text("Template", exact=True).click()
    choose_option(page, "Approved template", "flash_sale")
    fixed_value(page, "{{sale_name}} in the header", "Gajian")
    first_name = variable(page, "{{first_name}} in the body")
    choose_option(first_name, "Contact field", "name")
    first_name.get_by_role("textbox", name="Fallback").fill("Kak")
    first_name.get_by_role("textbox", name="Fallback").press("Tab")
    fixed_value(page, "{{sale_name}} in the body", "Gajian")
    fixed_value(page, "{{end_time}} in the body", "21.00")
    fixed_value(page, "{{voucher_code}} in the body", "VIPGAJIAN")
    bubble = page.locator(".wa-bubble")
    expect(bubble).to_contain_text("flash sale Gajian cuma sampai jam 21.00!", timeout=T)
    expect(bubble).to_contain_text("Pakai kode VIPGAJIAN saat checkout.")
    expect(bubble).not_to_contain_text("<body.first_name>")
    expect(page.get_by_text("Still needed")).to_have_count(0, timeout=T)  # every one mapped
    bubble.scroll_into_view_if_needed()  # the picture shows the preview beside the mapping
    journey.shot("builder-template-variables")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("When should it go out?")).to_be_visible(timeout=T)
    rate = page.get_by_role("spinbutton", name="Sending rate (messages per second)")
    rate.fill("2")  # slow enough to pause it while it sends
    rate.press("Enter")
    expect(page.get_by_text(f"for {recipients} recipients at this rate")).to_be_visible(timeout=T)
    journey.shot("builder-schedule")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("Ready to send")).to_be_visible(timeout=T)

    # --- a test message reaches the sandbox ---------------------------------------------------
    page.get_by_role("textbox", name="Phone number").fill(TEST_PHONE)
    page.get_by_role("button", name="Send test message").click()
    expect(page.get_by_text("Test message sent to +6281234567890")).to_be_visible(timeout=T)
    [test] = sandbox_messages(up, "6281234567890")
    assert test["template"]["name"] == "flash_sale"
    journey.shot("builder-test-sent")

    # --- send now: a Dagster run delivers it; progress follows on the Campaigns page ----------
    page.get_by_role("button", name="Send now").click()
    page.get_by_role("button", name="Yes, send now").click()
    expect(journey.heading("Campaigns")).to_be_visible(timeout=T)
    started = page.get_by_text(f"Campaign '{CAMPAIGN}' started: {recipients} recipients.")
    expect(started).to_be_visible(timeout=T)
    expect(started).to_contain_text("Dagster run")
    with up.engine.connect() as conn:
        campaign_id = conn.scalar(select(Campaign.id).where(Campaign.name == CAMPAIGN))
    assert campaign_id is not None
    card = campaign_card(page, CAMPAIGN)
    progress = card.get_by_text(re.compile(r"\d+ / \d+ sent"))
    expect(progress).to_contain_text(re.compile(rf"[1-9]\d* / {recipients} sent"), timeout=T)
    journey.shot("campaign-sending")

    # --- pause: nothing more goes out; resume: it carries on ----------------------------------
    card.get_by_role("button", name="Pause").click()
    expect(card.get_by_text("Paused", exact=True)).to_be_visible(timeout=T)
    time.sleep(2)  # a send in flight when the pause landed may still be answered
    sent_when_paused = len(sandbox_messages(up)) - 1  # less the test message
    time.sleep(3)
    assert len(sandbox_messages(up)) - 1 == sent_when_paused
    assert sent_when_paused < recipients
    journey.shot("campaign-paused")
    card.get_by_role("button", name="Resume").click()
    expect(card.get_by_text("Running", exact=True)).to_be_visible(timeout=T)
    wait_for(
        lambda: len(sandbox_messages(up)) - 1 == recipients,
        90,
        "every recipient's message to reach WhatsApp",
    )
    journey.shot("campaign-resumed")

    # --- analytics fill in from the sandbox's webhooks ----------------------------------------
    card.get_by_role("link", name="Results").click()
    expect(journey.heading("Campaign analytics")).to_be_visible(timeout=T)
    expect(journey.heading(CAMPAIGN)).to_be_visible(timeout=T)
    expect(page.get_by_text("updating every 5 s", exact=False)).to_be_visible(timeout=T)
    # The sandbox answers with deliveries, reads and (about 15 s later) replies.
    final = wait_for(
        lambda: (c := counts(up.engine, campaign_id))["replied_count"] > 0 and c,
        120,
        "a customer's reply to be recorded",
    )
    # The page follows on its own (no reload): each figure reaches what the database holds.
    for label, column in (("Delivered", "delivered_count"), ("Read", "read_count"),
                          ("Replied", "replied_count")):  # fmt: skip
        wait_for(
            lambda label=label, column=column: journey.metric(label) >= final[column] > 0,
            60,
            f"the page's {label} figure to follow the webhooks",
        )
    expect(page.locator(".vega-embed").nth(1)).to_be_visible(timeout=T)
    page.set_viewport_size({"width": 1400, "height": 2400})  # figures, charts and timeline
    journey.shot("analytics")
    page.set_viewport_size({"width": 1400, "height": 1100})

    # --- the report exports -------------------------------------------------------------------
    export_row = page.get_by_test_id("stHorizontalBlock").filter(has_text="Report").last
    with page.expect_download() as download:
        export_row.get_by_role("button", name="CSV").click()
    report = download.value
    assert report.suggested_filename.endswith(".csv")
    text = Path(report.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) >= 2 and CAMPAIGN in text
    (ARTIFACTS / report.suggested_filename).write_text(text, encoding="utf-8")

    # --- a customer replies "BERHENTI": they are opted out ------------------------------------
    with up.engine.connect() as conn:
        phone, name = conn.execute(
            select(CampaignMessage.phone, Contact.name)
            .join(Contact, Contact.id == CampaignMessage.contact_id)
            .where(
                CampaignMessage.campaign_id == campaign_id,
                CampaignMessage.status.in_(("delivered", "read")),
                CampaignMessage.opted_out_at.is_(None),
            )
            .order_by(CampaignMessage.phone)
            .limit(1)
        ).one()
    # The demo lets the owner play the customer: the sandbox sends the signed webhook.
    journey.open("WhatsApp account")
    page.get_by_role("textbox", name="Customer's number").fill(phone)
    page.get_by_role("textbox", name="Their message").fill("BERHENTI")
    page.get_by_role("button", name="Send as the customer").click()
    expect(page.get_by_text("The sandbox delivered it")).to_be_visible(timeout=T)
    journey.shot("customer-replies-berhenti")
    wait_for(lambda: _opted_out(up.engine, phone), 30, "the BERHENTI reply to opt the customer out")
    journey.open("Opt-outs")
    page.get_by_role("textbox", name="Search by name or phone").fill(phone)
    page.get_by_role("textbox", name="Search by name or phone").press("Enter")
    # A data grid: its cells are in the page for assistive technology, drawn on a canvas.
    expect(page.get_by_text(phone, exact=True).first).to_be_attached(timeout=T)
    expect(page.get_by_text(name, exact=True).first).to_be_attached()
    journey.shot("opt-outs")

    # --- the Dagster UI shows the run that sent it --------------------------------------------
    dagster = browser.new_page(viewport={"width": 1400, "height": 900})
    dagster.goto(f"{up.dagster}/runs")
    expect(dagster.get_by_text("send_campaign").first).to_be_visible(timeout=T)
    journey.shot("dagster-runs", dagster)
    dagster.close()

    # --- a supervisor sees everything and can change nothing ----------------------------------
    journey.sign_out()
    journey.sign_in(SUPERVISOR)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("link", name="Campaign builder")).to_have_count(0)
    journey.open("Campaigns")
    card = campaign_card(page, CAMPAIGN)
    expect(card).to_be_visible(timeout=T)
    for action in ("Pause", "Resume", "Cancel campaign", "Duplicate"):
        expect(card.get_by_role("button", name=action)).to_have_count(0)
    expect(page.get_by_role("button", name="New campaign")).to_have_count(0)
    journey.shot("supervisor-campaigns")
    journey.open("Opt-outs")
    masked = mask_phone(phone)  # supervisors see enough of a number to recognise it
    expect(page.get_by_text(masked, exact=True).first).to_be_attached(timeout=T)
    expect(page.get_by_text(phone)).to_have_count(0)
    journey.shot("supervisor-opt-outs-masked")

    # --- an agent has no access to campaigns --------------------------------------------------
    journey.sign_out()
    journey.sign_in(AGENT)
    expect(journey.heading("No access")).to_be_visible(timeout=T)
    expect(page.get_by_role("link", name="Campaigns")).to_have_count(0)
    page.goto(f"{up.app}/campaigns")  # typing the address: still signed in, still no access
    expect(journey.heading("No access")).to_be_visible(timeout=T)
    expect(page.get_by_text(CAMPAIGN)).to_have_count(0)
    journey.shot("agent-no-access")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _opted_out(engine: Engine, phone: str) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.scalar(
                select(ContactPreference.opted_out)
                .join(Contact, Contact.id == ContactPreference.contact_id)
                .where(Contact.phone == phone)
            )
        )
