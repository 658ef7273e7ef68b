"""The audit log over HTTP: owners read it, filtered by target."""

from __future__ import annotations

import httpx

from core.permissions import Actor


def test_owner_reads_audit_newest_first_filtered_by_target(
    owner_api: httpx.Client, owner: Actor, agent: Actor
) -> None:
    owner_api.patch(f"/api/profiles/{agent.id}", json={"is_active": False})
    owner_api.patch(f"/api/profiles/{agent.id}", json={"is_active": True})

    response = owner_api.get(
        "/api/audit", params={"target_type": "profile", "target_id": str(agent.id)}
    )
    assert response.status_code == 200
    entries = response.json()
    assert [e["action"] for e in entries[:2]] == ["profile.activate", "profile.deactivate"]
    assert all(e["target_id"] == str(agent.id) for e in entries)
    assert entries[0]["actor_email"] == "owner@example.com"
    assert entries[0]["actor_role"] == "owner"

    limited = owner_api.get("/api/audit", params={"limit": 1}).json()
    assert len(limited) == 1


def test_audit_is_owner_only(supervisor_api: httpx.Client, agent_api: httpx.Client) -> None:
    assert supervisor_api.get("/api/audit").status_code == 403
    assert agent_api.get("/api/audit").status_code == 403


def test_audit_limit_is_bounded(owner_api: httpx.Client) -> None:
    response = owner_api.get("/api/audit", params={"limit": 5000})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "limit"
    assert response.json()["errors"][0]["location"] == "query"
