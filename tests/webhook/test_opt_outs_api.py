"""``GET /api/opt-outs`` and ``POST /api/opt-outs/{contact_id}/opt-in`` over real HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest

from core.bootstrap import Siaran
from tests.core.test_optouts import BASE, opted_out


@pytest.fixture
def two(siaran: Siaran) -> list[uuid.UUID]:
    return [
        opted_out(siaran, "Siti Rahayu", "+6281234567001", at=BASE),
        opted_out(
            siaran, "Budi Santoso", "+6281298765002", at=BASE + timedelta(days=1), source="button"
        ),
    ]


def test_owners_page_through_opt_outs(owner_api: httpx.Client, two: list[uuid.UUID]) -> None:
    answer = owner_api.get("/api/opt-outs", params={"limit": 1})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["total"], body["has_more"], body["limit"], body["offset"]) == (2, True, 1, 0)
    assert body["items"][0]["name"] == "Budi Santoso"
    assert body["items"][0]["phone"] == "+6281298765002"
    assert body["items"][0]["source"] == "button"
    later = owner_api.get(
        "/api/opt-outs", params={"since": (BASE + timedelta(hours=2)).isoformat()}
    )
    assert [i["name"] for i in later.json()["items"]] == ["Budi Santoso"]
    naive = owner_api.get("/api/opt-outs", params={"until": "2026-03-01T10:00:00"})
    assert [i["name"] for i in naive.json()["items"]] == ["Siti Rahayu"]
    bad = owner_api.get("/api/opt-outs", params={"source": "fax"})
    assert bad.status_code == 422 and "Unknown opt-out source" in bad.json()["detail"]


def test_supervisors_read_masked_agents_not_at_all(
    supervisor_api: httpx.Client, agent_api: httpx.Client, two: list[uuid.UUID]
) -> None:
    items = supervisor_api.get("/api/opt-outs").json()["items"]
    assert [i["phone"] for i in items] == ["+62812•••••002", "+62812•••••001"]
    assert agent_api.get("/api/opt-outs").status_code == 403


def test_an_owner_opts_a_customer_back_in(
    owner_api: httpx.Client, supervisor_api: httpx.Client, two: list[uuid.UUID]
) -> None:
    path = f"/api/opt-outs/{two[0]}/opt-in"
    assert supervisor_api.post(path, json={"reason": "asked"}).status_code == 403
    missing = owner_api.post(path, json={})
    assert missing.status_code == 422
    answer = owner_api.post(path, json={"reason": "Asked in the store to get promotions again"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["opted_out"] is False and body["opted_in_by"] is not None
    assert body["opt_out_source"] == "keyword"
    assert owner_api.post(path, json={"reason": "again"}).status_code == 409
    assert (
        owner_api.post(f"/api/opt-outs/{uuid.uuid4()}/opt-in", json={"reason": "x"}).status_code
        == 404
    )
    assert owner_api.get("/api/opt-outs").json()["total"] == 1
    audit = owner_api.get("/api/audit", params={"target_id": str(two[0])}).json()
    assert audit[0]["action"] == "contact.opt_in"
    assert audit[0]["details"]["reason"] == "Asked in the store to get promotions again"
