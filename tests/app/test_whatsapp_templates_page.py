"""The WhatsApp templates page: badges, filters, the owner's sync, detail and live preview."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from core.bootstrap import Siaran
from core.permissions import Actor
from core.sandbox_account import sandbox_credentials
from core.whatsapp import MANAGER_URL, connect_account, sync_templates
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.app.conftest import texts

PAGE = "views/whatsapp_templates.py"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(latency_ms=0, latency_jitter_ms=0)) as server:
        yield server


@pytest.fixture
def connected(siaran: Siaran, owner: Actor, sandbox: SandboxServer) -> None:
    with siaran.uow.begin() as session:
        connect_account(session, owner, siaran.secrets, sandbox_credentials(sandbox.url))


@pytest.fixture
def synced(siaran: Siaran, owner: Actor, connected: None) -> None:
    with siaran.uow.begin() as session:
        sync_templates(session, owner, siaran.secrets)


def open_page(signed_in: Callable[[str], AppTest], email: str) -> AppTest:
    at = signed_in(email)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "WhatsApp templates"
    return at


def names(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["Name"])


def choose(at: AppTest, name: str, language: str = "id") -> AppTest:
    box = at.selectbox(key="templates_selected")
    option = next(o for o in box.options if o.startswith(f"{name} · {language} ·"))
    return box.select(option).run()


@pytest.mark.usefixtures("synced")
def test_owner_sees_every_template_with_colored_status(
    signed_in: Callable[[str], AppTest], owner: Actor, sandbox: SandboxServer
) -> None:
    at = open_page(signed_in, owner.email)
    assert not at.error
    table = at.dataframe[0].value
    assert len(table) == len(sandbox.state.templates)
    statuses = dict(zip(table["Name"], map(list, table["Status"]), strict=True))
    assert statuses["hello_world"] == ["APPROVED"]
    assert statuses["promo_gajian"] == ["PAUSED"]
    assert statuses["survei_kepuasan"] == ["REJECTED"]
    # Each status is drawn as a badge in its own color.
    config = json.loads(at.dataframe[0].proto.columns)["Status"]["type_config"]
    colors = {option["value"]: option["color"] for option in config["options"]}
    assert colors == {"APPROVED": "green", "PENDING": "yellow", "IN_APPEAL": "blue",
                      "PAUSED": "orange", "REJECTED": "red", "DISABLED": "gray"}  # fmt: skip
    assert ":green-badge[15 approved]" in texts(at)
    assert at.button(key="templates_sync")
    assert at.link_button[0].proto.url == MANAGER_URL


@pytest.mark.usefixtures("synced")
def test_filters_narrow_the_list(signed_in: Callable[[str], AppTest], owner: Actor) -> None:
    at = open_page(signed_in, owner.email)
    at.selectbox(key="templates_status").select("PAUSED").run()
    assert names(at) == ["promo_gajian"]
    at.selectbox(key="templates_status").select("All").run()
    at.selectbox(key="templates_category").select("AUTHENTICATION").run()
    assert names(at) == ["kode_verifikasi"]
    at.selectbox(key="templates_category").select("All").run()
    at.selectbox(key="templates_language").select("en_US").run()
    assert names(at) == ["hello_world", "sample_issue_resolution"]
    at.text_input(key="templates_search").input("nothing-like-this").run()
    assert not at.dataframe
    assert "No templates match these filters." in texts(at)


@pytest.mark.usefixtures("connected")
def test_owner_syncs_with_progress_and_a_report(
    signed_in: Callable[[str], AppTest], owner: Actor, sandbox: SandboxServer
) -> None:
    at = open_page(signed_in, owner.email)
    assert "No templates yet." in texts(at)
    at.button(key="templates_sync").click().run()
    total = len(sandbox.state.templates)
    assert at.status[0].state == "complete"
    assert at.success[0].value.startswith(f"{total} templates synced")
    assert f"{total} new" in at.success[0].value
    assert len(at.dataframe[0].value) == total


@pytest.mark.usefixtures("connected")
def test_a_failed_sync_says_why(
    signed_in: Callable[[str], AppTest], owner: Actor, sandbox: SandboxServer
) -> None:
    at = open_page(signed_in, owner.email)
    httpx.patch(f"{sandbox.url}/_sandbox/config", json={"access_token": "rotated-token"})
    at.button(key="templates_sync").click().run()
    assert at.status[0].state == "error"
    assert "Template sync failed" in at.error[0].value
    assert "access token" in at.error[0].value


@pytest.mark.usefixtures("synced")
def test_detail_and_preview_with_examples_then_own_values(
    signed_in: Callable[[str], AppTest], owner: Actor
) -> None:
    at = choose(open_page(signed_in, owner.email), "konfirmasi_pesanan")
    assert at.subheader[0].value == "konfirmasi_pesanan"
    assert ":green-badge[APPROVED]" in texts(at)
    body = at.text_input(key=next(k for k in input_keys(at) if k.endswith("body.1")))
    assert body.value == "Budi"
    bubble = at.html[0].value
    assert "Budi" in bubble and "INV-1024" in bubble and "{{" not in bubble

    body.input("<b>Siti</b>")
    at.button(key="templates_preview_submit").click().run()
    bubble = at.html[0].value
    assert "&lt;b&gt;Siti&lt;/b&gt;" in bubble and "<b>Siti" not in bubble
    assert not at.error
    # Filtering the chosen template away clears the choice instead of failing.
    at.selectbox(key="templates_status").select("PAUSED").run()
    assert not at.exception and at.selectbox(key="templates_selected").value is None


@pytest.mark.usefixtures("synced")
def test_preview_names_each_bad_value(signed_in: Callable[[str], AppTest], owner: Actor) -> None:
    at = choose(open_page(signed_in, owner.email), "konfirmasi_pesanan")
    keys = input_keys(at)
    at.text_input(key=next(k for k in keys if k.endswith("body.1"))).input("")
    at.text_input(key=next(k for k in keys if k.endswith("body.3"))).input("x" * 1100)
    at.button(key="templates_preview_submit").click().run()
    assert not at.html
    error = at.error[0].value
    assert "`body.1` ({{1}} in the body): missing value" in error
    assert "`body`: rendered body is" in error and "the limit is 1024" in error


@pytest.mark.usefixtures("synced")
def test_supervisor_previews_but_cannot_sync(
    signed_in: Callable[[str], AppTest], supervisor: Actor
) -> None:
    at = open_page(signed_in, supervisor.email)
    assert not at.error
    assert at.dataframe
    assert not [b for b in at.button if b.key == "templates_sync"]
    at = choose(at, "promo_gajian")
    assert ":orange-badge[PAUSED]" in texts(at)
    assert "PAUSED: paused by WhatsApp" in texts(at)
    assert at.html


def test_without_an_account_the_page_says_what_to_do(
    signed_in: Callable[[str], AppTest], owner: Actor
) -> None:
    at = open_page(signed_in, owner.email)
    assert not at.error
    assert "No WhatsApp account is connected." in texts(at)
    assert not [b for b in at.button if b.key == "templates_sync"]


def input_keys(at: AppTest) -> list[str]:
    return [w.key for w in at.text_input if w.key and w.key.startswith("preview_")]
