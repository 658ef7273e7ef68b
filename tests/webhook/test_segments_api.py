"""Segments over HTTP: every endpoint, per role, with the audit trail and criteria errors."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from core.bootstrap import Siaran
from core.db import UnitOfWork
from core.permissions import Actor
from core.segments import preview_criteria, refresh_contact_features
from core.settings import Settings
from sql.schema import AuditLog, Campaign, Contact, ContactPreference
from sql.types import utcnow
from tests.pipelines.segment_rig import VIP, customer

ANI_PHONE = "+6281200000001"


@pytest.fixture
def siaran(settings: Settings, engine: Engine) -> Siaran:
    """Dagster not configured: refreshes happen in the request."""
    return Siaran(settings.model_copy(update={"dagster_home": None, "dagster_url": None}), engine)


@pytest.fixture
def crm(uow: UnitOfWork, siaran: Siaran) -> dict[str, uuid.UUID]:
    """Ani (vip, Jakarta, opted out), Budi (vip, Bandung), Citra (no label); features fresh."""
    with uow.begin() as session:
        ani = customer(session, "Ani", ANI_PHONE, labels=["vip"])
        budi = customer(session, "Budi", "+6281200000002", labels=["vip", "reseller"])
        citra = customer(session, "Citra", "+6281200000003", conversations=0)
        session.flush()
        for contact_id, fields in (
            (ani, {"city": "Jakarta", "spend": 250, "since": "2024-01-05"}),
            (budi, {"city": "Bandung", "spend": 90.5, "member": True}),
            (citra, {"city": "Jakarta", "spend": "n/a"}),
        ):
            session.execute(
                Contact.__table__.update()
                .where(Contact.id == contact_id)
                .values(custom_fields=fields, updated_at=utcnow())
            )
        session.add(ContactPreference(contact_id=ani, opted_out=True, opted_out_at=utcnow()))
    refresh_contact_features(siaran.engine)
    return {"ani": ani, "budi": budi, "citra": citra}


def created(api: httpx.Client, name: str = "VIP", **fields: Any) -> dict[str, Any]:
    response = api.post("/api/segments", json={"name": name, "criteria": VIP, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def audit_actions(uow: UnitOfWork, segment_id: str) -> list[str]:
    with uow.session() as session:
        rows = session.scalars(
            select(AuditLog.action)
            .where(AuditLog.target_type == "segment", AuditLog.target_id == segment_id)
            .order_by(AuditLog.created_at, AuditLog.id)
        )
        return list(rows)


@pytest.mark.usefixtures("crm")
def test_owner_creates_reads_edits_and_deletes_with_an_audit_trail(
    owner_api: httpx.Client, uow: UnitOfWork
) -> None:
    segment = created(owner_api, description="Our best customers")
    assert (segment["contact_count"], segment["reachable_count"]) == (2, 1)
    assert segment["opted_out_count"] == 1 and segment["kind"] == "dynamic"
    assert segment["last_refreshed_at"] is not None
    sid = segment["id"]

    listed = owner_api.get("/api/segments").json()
    assert [s["name"] for s in listed] == ["VIP"]
    assert owner_api.get(f"/api/segments/{sid}").json()["description"] == "Our best customers"

    resellers = {"type": "all", "conditions": [
        {"type": "labels", "match": "all", "labels": ["vip", "reseller"]}]}  # fmt: skip
    changed = owner_api.put(
        f"/api/segments/{sid}", json={"name": "Resellers", "criteria": resellers}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["contact_count"]) == ("Resellers", 1)
    history = owner_api.get(f"/api/segments/{sid}/history").json()
    assert [(h["entered"], h["left"]) for h in history] == [(0, 1), (2, 0)]
    # Fields not sent (or null name) stay; a null description clears it.
    kept = owner_api.put(f"/api/segments/{sid}", json={"name": None, "description": None}).json()
    assert (kept["name"], kept["description"], kept["criteria"]) == ("Resellers", None, resellers)

    gone = owner_api.delete(f"/api/segments/{sid}")
    assert gone.status_code == 200
    assert gone.json() == {"name": "Resellers", "detached_campaigns": []}
    assert owner_api.get(f"/api/segments/{sid}").status_code == 404
    actions = audit_actions(uow, sid)
    assert [a for a in actions if a != "segment.snapshot"] == [
        "segment.create", "segment.update", "segment.update", "segment.delete"
    ]  # fmt: skip
    assert actions.count("segment.snapshot") == 2  # the members taken at creation and on edit


@pytest.mark.usefixtures("crm")
def test_invalid_criteria_are_a_422_with_the_paths(owner_api: httpx.Client) -> None:
    bad = {"type": "all", "conditions": [
        {"type": "any", "conditions": [{"type": "rating", "measure": "average", "op": "gte",
                                        "value": 9}]},
        {"type": "last_interaction", "op": "between", "start": "yesterday", "end": "2025-01-01"},
    ]}  # fmt: skip

    response = owner_api.post("/api/segments", json={"name": "Broken", "criteria": bad})

    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith("Invalid segment criteria: ")
    paths = {error["path"]: error["message"] for error in body["errors"]}
    assert paths == {
        "conditions[0].conditions[0].value": "must be at most 5",
        "conditions[1].start": "expected a date (YYYY-MM-DD)",
    }
    assert owner_api.get("/api/segments").json() == []
    unsaved = owner_api.post("/api/segments/preview", json={"criteria": bad})
    assert unsaved.status_code == 422 and unsaved.json()["errors"] == body["errors"]


def test_roles(
    crm: dict[str, uuid.UUID],
    owner_api: httpx.Client,
    supervisor_api: httpx.Client,
    agent_api: httpx.Client,
    api: httpx.Client,
) -> None:
    sid = created(owner_api)["id"]
    reads = [
        ("GET", "/api/segments", None),
        ("GET", f"/api/segments/{sid}", None),
        ("GET", "/api/segments/criteria-schema", None),
        ("POST", "/api/segments/preview", {"criteria": VIP}),
        ("POST", f"/api/segments/{sid}/preview", None),
        ("GET", f"/api/segments/{sid}/members", None),
        ("GET", f"/api/segments/{sid}/history", None),
        ("GET", "/api/labels", None),
        ("GET", "/api/contacts/custom-fields", None),
    ]
    writes = [
        ("POST", "/api/segments", {"name": "Other", "criteria": VIP}),
        ("PUT", f"/api/segments/{sid}", {"name": "Renamed"}),
        ("POST", f"/api/segments/{sid}/refresh", None),
        ("POST", f"/api/segments/{sid}/resnapshot", None),
        ("DELETE", f"/api/segments/{sid}", None),
    ]
    for method, path, body in reads:
        assert supervisor_api.request(method, path, json=body).status_code == 200, path
        assert agent_api.request(method, path, json=body).status_code == 403, path
        assert api.request(method, path, json=body).status_code == 401, path
    for method, path, body in writes:
        refused = supervisor_api.request(method, path, json=body)
        assert refused.status_code == 403, path
        assert "supervisor" in refused.json()["detail"]
        assert agent_api.request(method, path, json=body).status_code == 403, path
    assert owner_api.get(f"/api/segments/{sid}").json()["name"] == "VIP"


def test_previews_match_the_core_and_mask_phones_by_role(
    crm: dict[str, uuid.UUID],
    owner_api: httpx.Client,
    supervisor_api: httpx.Client,
    uow: UnitOfWork,
    owner: Actor,
) -> None:
    with uow.session() as session:
        expected = preview_criteria(session, owner, VIP)

    as_owner = owner_api.post("/api/segments/preview", json={"criteria": VIP}).json()
    as_supervisor = supervisor_api.post("/api/segments/preview", json={"criteria": VIP}).json()

    for body in (as_owner, as_supervisor):
        assert (body["matching"], body["reachable"], body["opted_out"]) == (
            expected.matching, expected.reachable, expected.opted_out)  # fmt: skip
        assert body["by_label"] == expected.by_label == {"vip": 2, "reseller": 1}
        assert body["by_status"] == expected.by_status and body["source"] == "criteria"
    owner_phones = {m["name"]: m["phone"] for m in as_owner["sample"]}
    assert owner_phones["Ani"] == ANI_PHONE
    supervisor_sample = {m["name"]: m for m in as_supervisor["sample"]}
    assert supervisor_sample["Ani"]["phone"] == "+62812•••••001"
    assert supervisor_sample["Ani"]["phone_masked"] and supervisor_sample["Ani"]["opted_out"]

    sid = created(owner_api)["id"]
    saved = supervisor_api.post(f"/api/segments/{sid}/preview").json()
    assert (saved["matching"], saved["reachable"]) == (2, 1)
    assert owner_api.post(f"/api/segments/{uuid.uuid4()}/preview").status_code == 404


def test_refresh_in_the_request_updates_the_counts(
    crm: dict[str, uuid.UUID], owner_api: httpx.Client, uow: UnitOfWork
) -> None:
    segment = created(owner_api)
    with uow.begin() as session:
        customer(session, "Dedi", "+6281200000004", labels=["vip"])

    response = owner_api.post(f"/api/segments/{segment['id']}/refresh")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["via"], body["run_id"]) == ("local", None)
    assert (body["snapshot"]["members"], body["snapshot"]["entered"]) == (3, 1)
    assert body["segment"]["contact_count"] == 3
    assert body["segment"]["last_refreshed_at"] > segment["last_refreshed_at"]
    assert "segment.refresh" in audit_actions(uow, segment["id"])


def test_members_are_paged_by_name_and_masked_for_supervisors(
    crm: dict[str, uuid.UUID], owner_api: httpx.Client, supervisor_api: httpx.Client
) -> None:
    sid = created(owner_api, name="Everyone", criteria={"type": "all", "conditions": []})["id"]

    first = supervisor_api.get(f"/api/segments/{sid}/members", params={"limit": 2}).json()
    assert [m["name"] for m in first["items"]] == ["Ani", "Budi"]
    assert (first["total"], first["has_more"]) == (3, True)
    assert first["items"][0]["phone"] == "+62812•••••001" and first["items"][0]["opted_out"]
    assert first["items"][1]["labels"] == ["reseller", "vip"]
    rest = supervisor_api.get(f"/api/segments/{sid}/members", params={"offset": 2}).json()
    assert [m["name"] for m in rest["items"]] == ["Citra"] and not rest["has_more"]
    reachable = owner_api.get(f"/api/segments/{sid}/members?reachable_only=true").json()
    assert [m["name"] for m in reachable["items"]] == ["Budi", "Citra"]
    owned = owner_api.get(f"/api/segments/{sid}/members").json()["items"]
    assert owned[0]["phone"] == ANI_PHONE and not owned[0]["phone_masked"]
    assert owner_api.get(f"/api/segments/{sid}/members?limit=0").status_code == 422


@pytest.mark.usefixtures("crm")
def test_a_segment_an_active_campaign_uses_cannot_be_deleted(
    owner_api: httpx.Client, uow: UnitOfWork
) -> None:
    sid = created(owner_api)["id"]
    with uow.begin() as session:
        session.add(Campaign(name="Lebaran sale", status="scheduled", message_type="text",
                             segment_id=uuid.UUID(sid)))  # fmt: skip

    refused = owner_api.delete(f"/api/segments/{sid}")

    assert refused.status_code == 409
    assert '"Lebaran sale" (scheduled)' in refused.json()["detail"]
    listed = owner_api.get("/api/segments").json()[0]
    assert (listed["campaign_count"], listed["active_campaigns"]) == (1, ["Lebaran sale"])


@pytest.mark.usefixtures("crm")
def test_static_segments_freeze_until_resnapshot(owner_api: httpx.Client, uow: UnitOfWork) -> None:
    sid = created(owner_api, name="Frozen VIP", kind="static")["id"]
    with uow.begin() as session:
        customer(session, "Dedi", "+6281200000004", labels=["vip"])
    refreshed = owner_api.post(f"/api/segments/{sid}/refresh").json()
    assert refreshed["snapshot"]["frozen"] and refreshed["segment"]["contact_count"] == 2

    again = owner_api.post(f"/api/segments/{sid}/resnapshot")

    assert again.status_code == 200, again.text
    assert (again.json()["snapshot"]["entered"], again.json()["segment"]["contact_count"]) == (1, 3)


def test_labels_custom_fields_and_the_criteria_schema(
    crm: dict[str, uuid.UUID], supervisor_api: httpx.Client
) -> None:
    labels = supervisor_api.get("/api/labels").json()
    assert [(label["name"], label["contact_count"]) for label in labels] == [
        ("reseller", 1), ("vip", 2)]  # fmt: skip

    found = supervisor_api.get("/api/contacts/custom-fields").json()
    fields = {f["name"]: f for f in found["fields"]}
    assert list(fields) == ["city", "member", "since", "spend"]
    assert (fields["city"]["type"], fields["city"]["choices"]) == ("text", ["Jakarta", "Bandung"])
    assert fields["spend"]["type"] == "number"
    assert fields["spend"]["types"] == {"number": 2, "text": 1}
    assert (fields["since"]["type"], fields["member"]["type"]) == ("date", "boolean")
    assert found["sampled"] == 3

    schema = supervisor_api.get("/api/segments/criteria-schema").json()
    assert "$defs" in schema and "LabelsCondition" in schema["$defs"]
