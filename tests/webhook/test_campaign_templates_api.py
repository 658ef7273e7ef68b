"""``/api/campaign-templates``: saved reusable messages, per role, over real HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import Engine

from core.bootstrap import Siaran
from core.settings import Settings
from tests.webhook.campaign_shop import no_dagster

BODY = {
    "name": "Promo bulanan",
    "description": "Awal bulan",
    "message_type": "text",
    "content": {"body": "Halo {name}, promo bulan ini!", "fallbacks": {"name": "Kak"}},
}


@pytest.fixture
def siaran(settings: Settings, engine: Engine) -> Siaran:
    return no_dagster(settings, engine)


@pytest.fixture
def saved(owner_api: httpx.Client) -> dict[str, object]:
    response = owner_api.post("/api/campaign-templates", json=BODY)
    assert response.status_code == 201, response.text
    return response.json()


def test_owner_creates_reads_updates_and_deletes(
    owner_api: httpx.Client, saved: dict[str, object]
) -> None:
    assert (saved["name"], saved["message_type"]) == ("Promo bulanan", "text")
    path = f"/api/campaign-templates/{saved['id']}"
    assert owner_api.get(path).json()["content"] == BODY["content"]
    changed = owner_api.put(path, json={"content": {"body": "Halo lagi!"}})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["content"], changed.json()["name"]) == (
        {"body": "Halo lagi!"},
        "Promo bulanan",
    )
    listed = owner_api.get("/api/campaign-templates", params={"search": "BULAN"}).json()
    assert [s["id"] for s in listed] == [saved["id"]]
    assert owner_api.delete(path).status_code == 204
    assert owner_api.get(path).status_code == 404
    assert owner_api.delete(path).status_code == 404


def test_names_are_unique_and_content_checked(
    owner_api: httpx.Client, saved: dict[str, object]
) -> None:
    clash = owner_api.post("/api/campaign-templates", json={**BODY, "name": "PROMO BULANAN"})
    assert clash.status_code == 409 and "already exists" in clash.json()["detail"]
    bad = owner_api.post(
        "/api/campaign-templates",
        json={"name": "Gambar", "message_type": "image", "content": {"link": "ftp://x"}},
    )
    assert bad.status_code == 422 and "https://" in bad.json()["detail"]
    unknown = owner_api.post("/api/campaign-templates", json={"name": "X", "shape": "round"})
    assert unknown.status_code == 422 and "shape" in unknown.json()["detail"]
    nameless = owner_api.post("/api/campaign-templates", json={"message_type": "text"})
    assert nameless.status_code == 422 and "needs a name" in nameless.json()["detail"]


def test_a_campaign_starts_from_a_saved_message(
    owner_api: httpx.Client, saved: dict[str, object]
) -> None:
    response = owner_api.post(
        f"/api/campaign-templates/{saved['id']}/campaigns", json={"name": "Promo Desember"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["name"], body["status"]) == ("Promo Desember", "draft")
    assert body["message_content"] == BODY["content"]


def test_supervisors_read_only_and_agents_nothing(
    supervisor_api: httpx.Client, agent_api: httpx.Client, saved: dict[str, object]
) -> None:
    path = f"/api/campaign-templates/{saved['id']}"
    assert supervisor_api.get("/api/campaign-templates").status_code == 200
    assert supervisor_api.get(path).status_code == 200
    writes = [
        ("POST", "/api/campaign-templates", {**BODY, "name": "Lain"}),
        ("PUT", path, {"name": "Lain"}),
        ("DELETE", path, None),
        ("POST", f"{path}/campaigns", {"name": "Lain"}),
    ]
    for method, url, body in writes:
        response = supervisor_api.request(method, url, json=body)
        assert response.status_code == 403, (method, url, response.text)
    for method, url, body in [("GET", "/api/campaign-templates", None), ("GET", path, None)]:
        assert agent_api.request(method, url, json=body).status_code == 403
    for method, url, body in writes:
        assert agent_api.request(method, url, json=body).status_code == 403


def test_unknown_saved_message_is_404(owner_api: httpx.Client) -> None:
    missing = uuid.uuid4()
    response = owner_api.put(f"/api/campaign-templates/{missing}", json={"name": "X"})
    assert response.status_code == 404 and str(missing) in response.json()["detail"]
