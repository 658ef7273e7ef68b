"""Connection failures name the credential to fix; filters and examples behave as expected."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from core.bootstrap import Siaran
from core.errors import InvalidInput
from core.permissions import Actor
from core.sandbox_account import sandbox_credentials
from core.templates import extract_variables, render, sample_values
from core.whatsapp import AccountCredentials, connect_account, list_templates, sync_templates
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from sql.schema import WhatsAppAccount


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(latency_ms=0, latency_jitter_ms=0)) as server:
        yield server


def refusal(siaran: Siaran, owner: Actor, credentials: AccountCredentials) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught, siaran.uow.begin() as session:
        connect_account(session, owner, siaran.secrets, credentials)
    with siaran.uow.session() as session:
        assert session.scalars(select(WhatsAppAccount)).all() == []
    return caught.value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("access_token", "not-the-right-token", "access_token"),
        ("phone_number_id", "999999999", "phone_number_id"),
        ("waba_id", "888888888", "waba_id"),
    ],
)
def test_each_wrong_credential_is_named(
    siaran: Siaran, owner: Actor, sandbox: SandboxServer, field: str, value: str, expected: str
) -> None:
    credentials = sandbox_credentials(sandbox.url).model_copy(update={field: value})
    error = refusal(siaran, owner, credentials)
    assert error.message.startswith("WhatsApp refused the connection")
    assert [e["path"] for e in error.errors] == [expected]


def test_an_unreachable_api_is_named_as_such(siaran: Siaran, owner: Actor) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    error = refusal(siaran, owner, sandbox_credentials(url))
    assert error.message.startswith(f"Siaran could not reach WhatsApp at {url}")
    assert "retries" not in error.message
    assert [e["path"] for e in error.errors] == ["api_base_url"]


def test_blank_secrets_and_addresses_are_refused_before_any_call() -> None:
    values = sandbox_credentials("http://127.0.0.1:1").model_dump()
    with pytest.raises(ValidationError) as caught:
        AccountCredentials(**values | {"access_token": " " * 12, "api_base_url": "graph.fb"})
    assert {e["loc"][0] for e in caught.value.errors()} == {"access_token", "api_base_url"}
    trimmed = AccountCredentials(**values | {"api_base_url": " https://graph.facebook.com/ "})
    assert trimmed.api_base_url == "https://graph.facebook.com"


def test_unknown_status_or_category_filters_are_refused(siaran: Siaran, owner: Actor) -> None:
    with siaran.uow.session() as session:
        with pytest.raises(InvalidInput) as caught:
            list_templates(session, owner, status="LIVE")
        assert caught.value.errors == [
            {"path": "status", "message": "must be one of " + ", ".join(
                ["APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL"])}
        ]  # fmt: skip
        with pytest.raises(InvalidInput, match="category"):
            list_templates(session, owner, category="PROMO")
        assert list_templates(session, owner, status="approved", category="marketing") == []


def test_url_button_examples_become_the_value_sent() -> None:
    button = {"type": "URL", "text": "Buka", "url": "https://toko.id/p/{{1}}?ref=wa"}
    for example, expected in [
        ("https://toko.id/p/batik?ref=wa", "batik"),  # Meta's form: the whole URL
        ("batik", "batik"),  # already the variable part
    ]:
        components = [
            {"type": "BODY", "text": "Hi"},
            {"type": "BUTTONS", "buttons": [button | {"example": [example]}]},
        ]
        [variable] = extract_variables(components)
        assert variable.example == expected
        rendered = render(components, sample_values(components))
        assert rendered.buttons[0]["url"] == "https://toko.id/p/batik?ref=wa"


def test_synced_templates_preview_with_their_examples(
    siaran: Siaran, owner: Actor, sandbox: SandboxServer
) -> None:
    with siaran.uow.begin() as session:
        connect_account(session, owner, siaran.secrets, sandbox_credentials(sandbox.url))
    with siaran.uow.begin() as session:
        sync_templates(session, owner, siaran.secrets)
    with siaran.uow.session() as session:
        templates = list_templates(session, owner)
        assert len(templates) == len(sandbox.state.templates)
        for template in templates:  # every sandbox template renders from its own examples
            rendered = render(template.components, sample_values(template.components))
            assert "{{" not in rendered.as_text()
            for button in rendered.buttons:
                assert button.get("url", "").count("https://") <= 1, template.name
