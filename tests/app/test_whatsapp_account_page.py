"""The WhatsApp account page: connect (with visible form errors), test, disconnect; roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.bootstrap import Siaran
from core.permissions import Actor
from core.sandbox_account import sandbox_credentials
from core.whatsapp import connect_account
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from sql.schema import WhatsAppAccount
from tests.app.conftest import texts

PAGE = "views/whatsapp_account.py"
SECRETS = ("sandbox-access-token", "sandbox-app-secret", "sandbox-verify-token")
FORM_KEYS = ("wa_name", "wa_waba_id", "wa_phone_number_id", "wa_access_token")


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(latency_ms=0, latency_jitter_ms=0)) as server:
        yield server


@pytest.fixture
def connected(siaran: Siaran, owner: Actor, sandbox: SandboxServer) -> None:
    with siaran.uow.begin() as session:
        connect_account(session, owner, siaran.secrets, sandbox_credentials(sandbox.url))


def open_page(signed_in: Callable[[str], AppTest], email: str) -> AppTest:
    at = signed_in(email)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "WhatsApp account"
    return at


def fill_form(at: AppTest, sandbox: SandboxServer, **changes: str) -> AppTest:
    values = sandbox_credentials(sandbox.url).model_dump(exclude={"is_sandbox"}) | changes
    for field, value in values.items():
        at.text_input(key=f"wa_{field}").input(value)
    at.checkbox(key="wa_is_sandbox").check()
    return at.button(key="wa_connect_submit").click().run()


def stored_accounts(siaran: Siaran) -> list[WhatsAppAccount]:
    with siaran.uow.session() as session:
        return list(session.scalars(select(WhatsAppAccount)))


def test_a_bad_token_shows_a_form_error_and_stores_nothing(
    signed_in: Callable[[str], AppTest], owner: Actor, sandbox: SandboxServer, siaran: Siaran
) -> None:
    at = open_page(signed_in, owner.email)
    assert "No WhatsApp account is connected." in texts(at)
    at = fill_form(at, sandbox, access_token="expired-token-123")
    error = at.error[0].value
    assert error.startswith("WhatsApp refused the connection")
    assert "**Access token**" in error and "190" in error
    assert stored_accounts(siaran) == []
    # What the owner typed stays, to be corrected.
    assert at.text_input(key="wa_waba_id").value == sandbox.state.config.waba_id


def test_missing_and_malformed_fields_are_each_named(
    signed_in: Callable[[str], AppTest], owner: Actor, sandbox: SandboxServer, siaran: Siaran
) -> None:
    at = open_page(signed_in, owner.email)
    at = fill_form(at, sandbox, verify_token="", phone_number_id="12 34", api_base_url="graph")
    error = at.error[0].value
    assert "**Webhook verify token**: required" in error
    assert "**Phone number ID**: only letters, digits" in error
    assert "**API base URL**: must be an https://" in error
    assert stored_accounts(siaran) == []


def test_owner_connects_and_sees_the_number(
    signed_in: Callable[[str], AppTest], owner: Actor, sandbox: SandboxServer, siaran: Siaran
) -> None:
    at = fill_form(open_page(signed_in, owner.email), sandbox)
    assert not at.error
    assert at.success[0].value.startswith("Connected Toko Maju (+62 811-0000-0000)")
    shown = texts(at)
    assert at.subheader[0].value == "Toko Maju"
    assert [m.value for m in at.metric] == [
        "+62 811-0000-0000",
        "80 msg/s",
        "2,000 / 24 h",
    ]
    assert ":green-badge[:material/verified: Quality GREEN]" in shown
    assert ":violet-badge[:material/science: Sandbox: messages go nowhere]" in shown
    assert "Last checked:** 20" in shown
    assert all(secret not in shown for secret in SECRETS)
    assert at.text_input(key="wa_access_token").value == ""  # secrets leave the session
    assert "http://127.0.0.1:8800/webhook" in [c.value for c in at.code]
    [account] = stored_accounts(siaran)
    assert account.is_sandbox and account.is_active


@pytest.mark.usefixtures("connected")
def test_test_connection_refreshes_or_says_why_it_failed(
    signed_in: Callable[[str], AppTest], owner: Actor, sandbox: SandboxServer
) -> None:
    at = open_page(signed_in, owner.email)
    httpx.patch(f"{sandbox.url}/_sandbox/config", json={"quality_rating": "YELLOW"})
    at.button(key="wa_check").click().run()
    assert "Quality rating YELLOW" in at.success[0].value
    assert ":yellow-badge[:material/verified: Quality YELLOW]" in texts(at)

    httpx.patch(f"{sandbox.url}/_sandbox/config", json={"access_token": "rotated-token"})
    at.button(key="wa_check").click().run()
    assert at.error[0].value.startswith("The connection test failed.")
    assert "access token" in at.error[0].value


@pytest.mark.usefixtures("connected")
def test_disconnect_asks_first(
    signed_in: Callable[[str], AppTest], owner: Actor, siaran: Siaran
) -> None:
    at = open_page(signed_in, owner.email)
    at.button(key="wa_disconnect").click().run()
    assert "Disconnect this number?" in at.warning[0].value
    at.button(key="wa_disconnect_cancel").click().run()
    assert not at.warning and at.subheader[0].value == "Toko Maju"
    at.button(key="wa_disconnect").click().run()
    at.button(key="wa_disconnect_confirm").click().run()
    assert "disconnected" in at.success[0].value
    assert "No WhatsApp account is connected." in texts(at)
    assert [a.is_active for a in stored_accounts(siaran)] == [False]


@pytest.mark.usefixtures("connected")
def test_supervisor_sees_the_connection_but_no_controls(
    signed_in: Callable[[str], AppTest], supervisor: Actor
) -> None:
    at = open_page(signed_in, supervisor.email)
    assert not at.error
    assert at.subheader[0].value == "Toko Maju"
    assert at.metric[0].value == "+62 811-0000-0000"
    assert {b.key for b in at.button} == {"sign_out"}
    assert not at.text_input
    assert all(secret not in texts(at) for secret in SECRETS)


def test_supervisor_without_an_account_is_told_an_owner_connects_it(
    signed_in: Callable[[str], AppTest], supervisor: Actor
) -> None:
    at = open_page(signed_in, supervisor.email)
    assert "An owner of your business connects it." in texts(at)
    assert not at.text_input


@pytest.mark.usefixtures("connected")
def test_with_the_sandbox_an_owner_writes_as_a_customer(
    signed_in: Callable[[str], AppTest], owner: Actor, sandbox: SandboxServer
) -> None:
    at = open_page(signed_in, owner.email)
    at.text_input(key="wa_sim_phone").input("12")
    at.text_input(key="wa_sim_text").input("BERHENTI")
    at = at.button(key="FormSubmitter:wa_simulate-Send as the customer").click().run()
    assert "'12' is not a valid phone number" in at.error[0].value
    assert not sandbox.state.inbound_ids

    at.text_input(key="wa_sim_phone").input("+62 812 3456 7890")
    at = at.button(key="FormSubmitter:wa_simulate-Send as the customer").click().run()
    assert not at.error
    [message_id] = sandbox.state.inbound_ids
    assert sandbox.state.inbound_ids[message_id] == "6281234567890"
    assert f"The sandbox delivered it (message id {message_id})" in at.success[0].value
