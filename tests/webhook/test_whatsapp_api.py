"""The WhatsApp account and template endpoints, over real HTTP against an in-process sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.sandbox_account import sandbox_credentials
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

ENDPOINTS = [
    ("GET", "/api/whatsapp/account"),
    ("PUT", "/api/whatsapp/account"),
    ("POST", "/api/whatsapp/account/check"),
    ("DELETE", "/api/whatsapp/account"),
    ("GET", "/api/whatsapp/templates"),
    ("POST", "/api/whatsapp/templates/sync"),
    ("GET", "/api/whatsapp/templates/00000000-0000-0000-0000-000000000001"),
    ("POST", "/api/whatsapp/templates/00000000-0000-0000-0000-000000000001/preview"),
]
SECRETS = ("sandbox-access-token", "sandbox-app-secret", "sandbox-verify-token")


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(latency_ms=0, latency_jitter_ms=0)) as server:
        yield server


def credentials(sandbox: SandboxServer, **changes: Any) -> dict[str, Any]:
    return sandbox_credentials(sandbox.url).model_dump() | changes


@pytest.fixture
def connected(owner_api: httpx.Client, sandbox: SandboxServer) -> dict[str, Any]:
    response = owner_api.put("/api/whatsapp/account", json=credentials(sandbox))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def synced(owner_api: httpx.Client, connected: dict[str, Any]) -> dict[str, Any]:
    response = owner_api.post("/api/whatsapp/templates/sync")
    assert response.status_code == 200, response.text
    return response.json()


def template_named(api: httpx.Client, name: str, language: str = "id") -> dict[str, Any]:
    found = api.get("/api/whatsapp/templates", params={"search": name}).json()
    return next(t for t in found if t["name"] == name and t["language"] == language)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_agents_may_use_none_of_it(
    agent_api: httpx.Client, sandbox: SandboxServer, method: str, path: str
) -> None:
    body = credentials(sandbox) if method == "PUT" else None
    response = agent_api.request(method, path, json=body)
    assert response.status_code == 403, response.text
    assert "agent" in response.json()["detail"]


def test_signed_out_callers_are_asked_to_sign_in(api: httpx.Client) -> None:
    assert api.get("/api/whatsapp/templates").status_code == 401


def test_owner_connects_and_sees_no_secret(
    owner_api: httpx.Client, connected: dict[str, Any], sandbox: SandboxServer
) -> None:
    assert connected["verified_name"] == "Toko Maju"
    assert connected["display_phone_number"] == "+62 811-0000-0000"
    assert connected["quality_rating"] == "GREEN"
    assert connected["messaging_limit_tier"] == "TIER_2K"
    assert connected["throughput_per_second"] == 80
    assert (connected["is_sandbox"], connected["is_active"]) == (True, True)
    assert connected["access_token"] == "••••oken"
    assert connected["webhook_url"].endswith(":8800/webhook")
    shown = owner_api.get("/api/whatsapp/account")
    assert shown.status_code == 200
    for secret in SECRETS:
        assert secret not in shown.text and secret not in str(connected)


def test_a_wrong_token_is_refused_with_the_field_named(
    owner_api: httpx.Client, sandbox: SandboxServer
) -> None:
    response = owner_api.put(
        "/api/whatsapp/account", json=credentials(sandbox, access_token="not-the-right-token")
    )
    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith("WhatsApp refused the connection")
    assert [e["path"] for e in body["errors"]] == ["access_token"]
    assert "190" in body["errors"][0]["message"]
    assert owner_api.get("/api/whatsapp/account").status_code == 404


def test_a_wrong_waba_id_is_caught_at_connect(
    owner_api: httpx.Client, sandbox: SandboxServer
) -> None:
    response = owner_api.put("/api/whatsapp/account", json=credentials(sandbox, waba_id="12345"))
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["waba_id"]


def test_malformed_credentials_name_each_field(
    owner_api: httpx.Client, sandbox: SandboxServer
) -> None:
    body = credentials(sandbox, api_base_url="graph.facebook.com", app_secret="short")
    del body["verify_token"]
    response = owner_api.put("/api/whatsapp/account", json=body)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"api_base_url", "app_secret", "verify_token"}
    assert "short" not in response.text


def test_supervisors_read_but_change_nothing(
    supervisor_api: httpx.Client, synced: dict[str, Any], sandbox: SandboxServer
) -> None:
    assert supervisor_api.get("/api/whatsapp/account").status_code == 200
    templates = supervisor_api.get("/api/whatsapp/templates")
    assert templates.status_code == 200 and templates.json()
    template_id = templates.json()[0]["id"]
    assert supervisor_api.get(f"/api/whatsapp/templates/{template_id}").status_code == 200
    assert supervisor_api.post(f"/api/whatsapp/templates/{template_id}/preview").status_code == 200
    for method, path in [
        ("PUT", "/api/whatsapp/account"),
        ("POST", "/api/whatsapp/account/check"),
        ("DELETE", "/api/whatsapp/account"),
        ("POST", "/api/whatsapp/templates/sync"),
    ]:
        body = credentials(sandbox) if method == "PUT" else None
        response = supervisor_api.request(method, path, json=body)
        assert response.status_code == 403, (method, path, response.text)


def test_check_refreshes_and_disconnect_ends_the_connection(
    owner_api: httpx.Client, connected: dict[str, Any], sandbox: SandboxServer
) -> None:
    httpx.patch(f"{sandbox.url}/_sandbox/config", json={"quality_rating": "RED"})
    checked = owner_api.post("/api/whatsapp/account/check")
    assert checked.status_code == 200
    assert checked.json()["quality_rating"] == "RED"
    assert checked.json()["last_checked_at"] >= connected["last_checked_at"]

    assert owner_api.delete("/api/whatsapp/account").status_code == 204
    assert owner_api.get("/api/whatsapp/account").status_code == 404
    assert owner_api.post("/api/whatsapp/account/check").status_code == 404
    assert owner_api.post("/api/whatsapp/templates/sync").status_code == 404


def test_a_failing_check_says_why(
    owner_api: httpx.Client, connected: dict[str, Any], sandbox: SandboxServer
) -> None:
    httpx.patch(f"{sandbox.url}/_sandbox/config", json={"access_token": "rotated-token"})
    response = owner_api.post("/api/whatsapp/account/check")
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["access_token"]


def test_sync_reports_and_filters_find_templates(
    owner_api: httpx.Client, synced: dict[str, Any], sandbox: SandboxServer
) -> None:
    total = len(sandbox.state.templates)
    assert (synced["fetched"], synced["created"], synced["removed"]) == (total, total, 0)
    assert synced["summary"].startswith(f"{total} templates synced")

    everything = owner_api.get("/api/whatsapp/templates").json()
    assert len(everything) == total
    assert [t["name"] for t in everything] == sorted(t["name"] for t in everything)

    def names(**params: Any) -> set[str]:
        response = owner_api.get("/api/whatsapp/templates", params=params)
        assert response.status_code == 200, response.text
        return {t["name"] for t in response.json()}

    assert names(status="paused") == {"promo_gajian"}
    assert names(category="AUTHENTICATION") == {"kode_verifikasi"}
    assert names(language="en_US") == {"hello_world", "sample_issue_resolution"}
    assert names(search="PROMO") == {"promo_akhir_tahun", "promo_gajian"}
    assert names(status="APPROVED", category="UTILITY", language="en") == {
        "order_confirmation",
        "shipping_confirmation",
    }

    bad = owner_api.get("/api/whatsapp/templates", params={"status": "LIVE"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "status"


def test_removed_templates_are_hidden_unless_asked_for(
    owner_api: httpx.Client, synced: dict[str, Any], sandbox: SandboxServer
) -> None:
    gone = template_named(owner_api, "cuci_gudang")
    httpx.delete(f"{sandbox.url}/_sandbox/templates/{gone['meta_template_id']}").raise_for_status()
    report = owner_api.post("/api/whatsapp/templates/sync").json()
    assert report["removed"] == 1
    assert "cuci_gudang" not in {t["name"] for t in owner_api.get("/api/whatsapp/templates").json()}
    with_removed = owner_api.get("/api/whatsapp/templates", params={"include_removed": True})
    removed = next(t for t in with_removed.json() if t["name"] == "cuci_gudang")
    assert removed["removed_at"] is not None


def test_template_detail_and_unknown_ids(owner_api: httpx.Client, synced: dict[str, Any]) -> None:
    promo = template_named(owner_api, "promo_akhir_tahun")
    detail = owner_api.get(f"/api/whatsapp/templates/{promo['id']}").json()
    assert [c["type"] for c in detail["components"]] == ["HEADER", "BODY", "FOOTER", "BUTTONS"]
    assert [v["key"] for v in detail["variables"]] == [
        "header.media",
        "body.1",
        "body.2",
        "body.3",
        "button.1.1",
    ]
    assert detail["variables"][4]["example"] == "akhir-tahun"
    missing = owner_api.get("/api/whatsapp/templates/00000000-0000-0000-0000-000000000001")
    assert missing.status_code == 404
    assert owner_api.get("/api/whatsapp/templates/not-a-uuid").status_code == 422


def test_preview_with_examples_and_with_given_values(
    owner_api: httpx.Client, synced: dict[str, Any]
) -> None:
    template = template_named(owner_api, "konfirmasi_pesanan")
    url = f"/api/whatsapp/templates/{template['id']}/preview"

    examples = owner_api.post(url)
    assert examples.status_code == 200, examples.text
    assert examples.json()["variables"]["body.1"] == "Budi"
    assert "{{" not in examples.json()["rendered"]["text"]

    values = {"header.1": "INV-9", "body.1": "Siti", "body.2": "INV-9", "body.3": "Rp 99.000",
              "button.0.1": "INV-9"}  # fmt: skip
    given = owner_api.post(url, json={"variables": values})
    assert given.status_code == 200, given.text
    rendered = given.json()["rendered"]
    assert "Siti" in rendered["body"] and "Rp 99.000" in rendered["body"]
    assert rendered["buttons"][0]["url"].endswith("/INV-9")
    assert given.json()["variables"] == values


def test_preview_names_each_missing_extra_and_over_long_value(
    owner_api: httpx.Client, synced: dict[str, Any]
) -> None:
    template = template_named(owner_api, "konfirmasi_pesanan")
    url = f"/api/whatsapp/templates/{template['id']}/preview"
    values = {"header.1": "INV-9", "body.1": "x" * 1100, "body.3": "Rp 1",
              "button.0.1": "INV-9", "body.7": "extra"}  # fmt: skip
    response = owner_api.post(url, json={"variables": values})
    assert response.status_code == 422
    errors = {e["path"]: e["message"] for e in response.json()["errors"]}
    assert errors.keys() == {"body.7", "body.2", "body"}
    assert errors["body.7"] == "this template has no such variable"
    assert errors["body.2"] == "missing value"
    assert "the limit is 1024" in errors["body"]

    header = owner_api.post(url, json={"variables": values | {"header.1": "y" * 80}})
    assert "header" in {e["path"] for e in header.json()["errors"]}

    empty = owner_api.post(url, json={"variables": {}})
    assert empty.status_code == 422
    assert {e["message"] for e in empty.json()["errors"]} == {"missing value"}

    wrong_type = owner_api.post(url, json={"variables": {"body.1": 5}})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["errors"][0]["field"] == "variables.body.1"


def test_sync_without_an_account_says_to_connect_one(owner_api: httpx.Client) -> None:
    response = owner_api.post("/api/whatsapp/templates/sync")
    assert response.status_code == 404
    assert "connect one" in response.json()["detail"]
