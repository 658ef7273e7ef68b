"""``/api/campaigns``: roles, CRUD, scheduling across zones and DST, transitions, insight."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, select

from core.bootstrap import Siaran
from core.permissions import Actor
from core.settings import Settings
from sql.schema import AuditLog, Campaign
from tests.core.campaigns import builders
from tests.webhook.campaign_shop import (
    Shop,
    campaign,
    in_status,
    next_us_dst_days,
    no_dagster,
    open_shop,
    tomorrow,
)

ANY = "00000000-0000-0000-0000-000000000001"
READS = [
    ("GET", "/api/campaigns"),
    ("GET", "/api/campaigns/scheduled"),
    ("GET", f"/api/campaigns/estimate?segment_id={ANY}"),
    ("GET", "/api/campaigns/{id}"),
    ("GET", "/api/campaigns/{id}/preview"),
    ("GET", "/api/campaigns/{id}/estimate"),
    ("GET", "/api/campaigns/{id}/progress"),
    ("GET", "/api/campaigns/{id}/exclusions"),
]
WRITES = [
    ("POST", "/api/campaigns", {"name": "Nope"}),
    ("PUT", "/api/campaigns/{id}", {"name": "Nope"}),
    ("DELETE", "/api/campaigns/{id}", None),
    ("POST", "/api/campaigns/{id}/send", None),
    ("POST", "/api/campaigns/{id}/schedule", {"date": "2031-01-01", "time": "09:00",
                                              "timezone": "Asia/Jakarta"}),
    ("POST", "/api/campaigns/{id}/unschedule", None),
    ("POST", "/api/campaigns/{id}/cancel", None),
    ("POST", "/api/campaigns/{id}/pause", None),
    ("POST", "/api/campaigns/{id}/resume", None),
    ("POST", "/api/campaigns/{id}/test-send", {"phone": "+6281100000009"}),
]  # fmt: skip


@pytest.fixture
def siaran(settings: Settings, engine: Engine) -> Siaran:
    return no_dagster(settings, engine)


@pytest.fixture
def shop(siaran: Siaran, owner: Actor) -> Shop:
    return open_shop(siaran, owner)


def call(api: httpx.Client, method: str, path: str, body: object = None) -> httpx.Response:
    return api.request(method, path, json=body) if body is not None else api.request(method, path)


# --- roles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), READS)
def test_agents_may_not_read(agent_api: httpx.Client, shop: Shop, method: str, path: str) -> None:
    response = call(agent_api, method, path.format(id=shop.campaign_id))
    assert response.status_code == 403, response.text
    assert "agent" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_agents_and_supervisors_may_not_write(
    agent_api: httpx.Client,
    supervisor_api: httpx.Client,
    shop: Shop,
    siaran: Siaran,
    method: str,
    path: str,
    body: object,
) -> None:
    for api in (agent_api, supervisor_api):
        response = call(api, method, path.format(id=shop.campaign_id), body)
        assert response.status_code == 403, (api.headers, response.text)
    with siaran.uow.session() as session:
        unchanged = session.get(Campaign, shop.campaign_id)
        assert unchanged is not None and (unchanged.name, unchanged.status) == ("Promo", "draft")


@pytest.mark.parametrize(("method", "path"), READS)
def test_supervisors_read(supervisor_api: httpx.Client, shop: Shop, method: str, path: str) -> None:
    response = call(supervisor_api, method, path.format(id=shop.campaign_id).replace(
        ANY, str(shop.segment_id)))  # fmt: skip
    assert response.status_code == 200, response.text


def test_anonymous_is_401(api: httpx.Client) -> None:
    assert api.get("/api/campaigns").status_code == 401


# --- create, read, update, delete -------------------------------------------------------------


def test_create_read_update_delete(owner_api: httpx.Client, shop: Shop, siaran: Siaran) -> None:
    created = owner_api.post(
        "/api/campaigns",
        json={
            "name": "  Flash sale ",
            "segment_id": str(shop.segment_id),
            "message_type": "text",
            "message_content": {"body": "Halo {name}!"},
            "rate_limit": 40,
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["name"], body["status"], body["rate_limit"]) == ("Flash sale", "draft", 40)
    assert body["whatsapp_account_id"] == str(shop.account_id)  # the connected account
    assert body["excluded"]["opted_out"] == 0 and body["scheduled_local"] is None

    changed = owner_api.put(f"/api/campaigns/{body['id']}", json={"description": "Only today"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["description"], changed.json()["name"]) == ("Only today", "Flash sale")
    assert campaign(owner_api, body["id"])["description"] == "Only today"

    assert owner_api.delete(f"/api/campaigns/{body['id']}").status_code == 204
    gone = owner_api.get(f"/api/campaigns/{body['id']}")
    assert gone.status_code == 404 and "does not exist" in gone.json()["detail"]
    with siaran.uow.session() as session:
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.target_id == body["id"])
        ).all()
    assert set(actions) >= {"campaign.create", "campaign.update", "campaign.delete"}


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({}, "name", "A campaign needs a name"),
        ({"name": "   "}, "name", "the name cannot be blank"),
        ({"name": "X", "rate_limit": 0}, "rate_limit", "greater than or equal to 1"),
        ({"name": "X", "colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"name": "X", "expires_at": "2031-01-01T10:00:00"}, "expires_at", "timezone"),
        ({"name": "X", "message_type": "fax"}, "message_type", "expected one of"),
    ],
)
def test_invalid_campaigns_are_422_naming_the_field(
    owner_api: httpx.Client, payload: dict[str, object], field: str, words: str
) -> None:
    response = owner_api.post("/api/campaigns", json=payload)
    assert response.status_code == 422, response.text
    body = response.json()
    assert words in body["detail"]
    assert field in body["detail"] or any(field in str(e) for e in body.get("errors") or [])


def test_list_filters_and_pages(owner_api: httpx.Client, shop: Shop, siaran: Siaran) -> None:
    in_status(siaran, "completed")
    in_status(siaran, "running")
    everything = owner_api.get("/api/campaigns").json()
    assert len(everything["items"]) == 3 and everything["has_more"] is False
    drafts = owner_api.get("/api/campaigns", params={"status": ["draft", "running"]}).json()
    assert sorted(c["status"] for c in drafts["items"]) == ["draft", "running"]
    page = owner_api.get("/api/campaigns", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["has_more"] is True
    found = owner_api.get("/api/campaigns", params={"search": "prom"}).json()
    assert [c["name"] for c in found["items"]] == ["Promo"]
    bad = owner_api.get("/api/campaigns", params={"status": "sleeping"})
    assert bad.status_code == 422 and "Unknown campaign status sleeping" in bad.json()["detail"]


def test_running_campaign_cannot_be_edited_or_deleted(
    owner_api: httpx.Client, siaran: Siaran
) -> None:
    running = in_status(siaran, "running")
    edit = owner_api.put(f"/api/campaigns/{running}", json={"name": "Other"})
    assert edit.status_code == 409 and "only draft, scheduled or paused" in edit.json()["detail"]
    delete = owner_api.delete(f"/api/campaigns/{running}")
    assert delete.status_code == 409 and "Cancel it first" in delete.json()["detail"]


# --- scheduling -------------------------------------------------------------------------------


def test_schedule_in_jakarta_then_list_unschedule_and_cancel(
    owner_api: httpx.Client, supervisor_api: httpx.Client, shop: Shop, siaran: Siaran
) -> None:
    day = tomorrow()
    response = owner_api.post(
        f"/api/campaigns/{shop.campaign_id}/schedule",
        json={"date": day.isoformat(), "time": "09:00", "timezone": "Asia/Jakarta"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    starts = datetime.combine(day, time(2, 0), tzinfo=UTC)  # 09:00 WIB is 02:00 UTC
    assert datetime.fromisoformat(body["scheduled_at"]) == starts
    local = datetime.fromisoformat(body["scheduled_local"])
    assert (local.hour, local.utcoffset()) == (9, timedelta(hours=7))
    assert (body["status"], body["timezone"]) == ("scheduled", "Asia/Jakarta")

    earlier = in_status(
        siaran, "scheduled", scheduled_at=starts - timedelta(hours=3), timezone="Europe/Berlin"
    )
    listed = supervisor_api.get("/api/campaigns/scheduled").json()
    assert [c["id"] for c in listed] == [str(earlier), str(shop.campaign_id)]
    assert datetime.fromisoformat(listed[0]["scheduled_local"]).utcoffset() == timedelta(hours=1)

    back = owner_api.post(f"/api/campaigns/{shop.campaign_id}/unschedule")
    assert back.status_code == 200 and back.json()["status"] == "draft"
    assert back.json()["scheduled_at"] is None
    cancelled = owner_api.post(f"/api/campaigns/{earlier}/cancel", json={"reason": "Typo"})
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["status_reason"]) == ("cancelled", "Typo")


def test_schedule_in_new_york_converts_with_the_offset_of_that_day(
    owner_api: httpx.Client, shop: Shop
) -> None:
    spring, fall = next_us_dst_days()
    for day, offset in ((spring + timedelta(days=1), -4), (fall + timedelta(days=1), -5)):
        response = owner_api.post(
            f"/api/campaigns/{shop.campaign_id}/schedule",
            json={"date": day.isoformat(), "time": "08:30", "timezone": "America/New_York"},
        )
        assert response.status_code == 200, response.text
        at = datetime.fromisoformat(response.json()["scheduled_at"])
        expected = datetime.combine(day, time(8, 30), tzinfo=ZoneInfo("America/New_York"))
        assert at == expected and expected.utcoffset() == timedelta(hours=offset)


def test_dst_gap_and_overlap_are_422_with_the_reason(owner_api: httpx.Client, shop: Shop) -> None:
    spring, fall = next_us_dst_days()
    path = f"/api/campaigns/{shop.campaign_id}/schedule"
    gap = owner_api.post(
        path, json={"date": spring.isoformat(), "time": "02:30", "timezone": "America/New_York"}
    )
    assert gap.status_code == 422, gap.text
    assert "does not exist" in gap.json()["detail"]
    assert "daylight saving" in gap.json()["detail"]
    overlap = owner_api.post(
        path, json={"date": fall.isoformat(), "time": "01:30", "timezone": "America/New_York"}
    )
    assert overlap.status_code == 422 and "happens twice" in overlap.json()["detail"]
    assert campaign(owner_api, shop.campaign_id)["status"] == "draft"


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"date": "2031-01-01", "time": "09:00", "timezone": "Mars/Olympus"}, "IANA timezone"),
        ({"date": "2031-01-01", "time": "25:00", "timezone": "Asia/Jakarta"}, "time"),
        ({"date": "31/01/2031", "time": "09:00", "timezone": "Asia/Jakarta"}, "date"),
        ({"date": "2020-01-01", "time": "09:00", "timezone": "Asia/Jakarta"}, "already passed"),
        ({"time": "09:00", "timezone": "Asia/Jakarta"}, "date: Field required"),
    ],
)
def test_bad_schedules_are_422(
    owner_api: httpx.Client, shop: Shop, payload: dict[str, str], words: str
) -> None:
    response = owner_api.post(f"/api/campaigns/{shop.campaign_id}/schedule", json=payload)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]


def test_scheduling_an_unready_campaign_lists_what_is_missing(
    owner_api: httpx.Client, siaran: Siaran
) -> None:
    draft = in_status(siaran, "draft")
    response = owner_api.post(
        f"/api/campaigns/{draft}/schedule",
        json={"date": tomorrow().isoformat(), "time": "10:00", "timezone": "Asia/Jakarta"},
    )
    assert response.status_code == 422
    assert "No segment is chosen" in response.json()["detail"]


# --- illegal transitions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action", "words"),
    [
        ("completed", "resume", "is completed; only paused campaigns can be resumed"),
        ("draft", "resume", "is a draft; only paused campaigns can be resumed"),
        ("draft", "pause", "only running campaigns can be paused"),
        ("completed", "cancel", "only scheduled, running or paused campaigns can be cancelled"),
        ("cancelled", "send", "only draft or scheduled campaigns can be launched"),
        ("running", "send", "is already running"),
        ("paused", "pause", "is already paused"),
        ("draft", "unschedule", "only scheduled campaigns can be unscheduled"),
    ],
)
def test_illegal_transitions_are_409_with_the_reason(
    owner_api: httpx.Client, siaran: Siaran, status: str, action: str, words: str
) -> None:
    campaign_id = in_status(siaran, status)
    response = owner_api.post(f"/api/campaigns/{campaign_id}/{action}")
    assert response.status_code == 409, response.text
    assert words in response.json()["detail"]
    assert campaign(owner_api, campaign_id)["status"] == status


def test_unknown_campaign_is_404(owner_api: httpx.Client) -> None:
    missing = uuid.uuid4()
    for method, path in (("GET", ""), ("POST", "/send"), ("GET", "/progress")):
        response = owner_api.request(method, f"/api/campaigns/{missing}{path}")
        assert response.status_code == 404, response.text
    assert owner_api.get("/api/campaigns/not-a-uuid").status_code == 422


# --- pause and cancel of a running campaign (no sender needed) ---------------------------------


def test_pause_then_cancel_a_running_campaign(owner_api: httpx.Client, siaran: Siaran) -> None:
    running = in_status(siaran, "running")
    paused = owner_api.post(f"/api/campaigns/{running}/pause", json={"reason": "Wrong price"})
    assert paused.status_code == 200, paused.text
    assert (paused.json()["status"], paused.json()["status_reason"]) == ("paused", "Wrong price")
    assert paused.json()["paused_at"] is not None
    cancelled = owner_api.post(f"/api/campaigns/{running}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


# --- preview and estimate ---------------------------------------------------------------------


def test_preview_with_the_first_member_or_a_given_contact(
    owner_api: httpx.Client, supervisor_api: httpx.Client, shop: Shop
) -> None:
    first = owner_api.get(f"/api/campaigns/{shop.campaign_id}/preview").json()
    assert (first["text"], first["sample"]) == ("Halo Ani di Bandung!", False)
    assert first["payload"]["text"]["body"] == "Halo Ani di Bandung!"
    assert first["phone"] == "+6281100000001"
    citra = supervisor_api.get(
        f"/api/campaigns/{shop.campaign_id}/preview",
        params={"contact_id": str(shop.contacts["Citra"])},
    ).json()
    assert citra["text"] == "Halo Citra di kota Anda!"  # the fallback fills the gap
    assert "•" in citra["phone"]  # supervisors see masked numbers
    missing = owner_api.get(
        f"/api/campaigns/{shop.campaign_id}/preview", params={"contact_id": str(uuid.uuid4())}
    )
    assert missing.status_code == 404


def test_estimate_reports_recipients_exclusions_and_missing_values(
    owner_api: httpx.Client, shop: Shop, siaran: Siaran
) -> None:
    with siaran.uow.begin() as session:
        ani = session.get(builders.Contact, shop.contacts["Ani"])
        assert ani is not None
        builders.opt_out(session, ani)
    owner_api.put(
        f"/api/campaigns/{shop.campaign_id}",
        json={"message_content": {"body": "Halo {name} di {city}!"}},  # no fallback now
    )
    body = owner_api.get(f"/api/campaigns/{shop.campaign_id}/estimate").json()
    assert body["ready"] is True and body["problems"] == []
    estimate = body["estimate"]
    assert (estimate["members"], estimate["recipients"]) == (3, 2)
    assert estimate["excluded"]["opted_out"] == 1
    assert body["missing"] == [{"label": "{city}", "missing": 1, "total": 2}]
    assert any("24 hours" in w for w in body["warnings"])
    assert any("1 of 2 recipients have no value" in w for w in body["warnings"])

    segment = owner_api.get(
        "/api/campaigns/estimate", params={"segment_id": str(shop.segment_id)}
    ).json()
    assert (segment["recipients"], segment["excluded"]["opted_out"]) == (2, 1)


def test_estimate_of_an_unready_campaign_lists_problems(
    owner_api: httpx.Client, siaran: Siaran
) -> None:
    draft = in_status(siaran, "draft")
    body = owner_api.get(f"/api/campaigns/{draft}/estimate").json()
    assert body["ready"] is False and body["estimate"] is None
    assert "No segment is chosen." in body["problems"]


def test_progress_of_a_draft_is_empty(owner_api: httpx.Client, shop: Shop) -> None:
    body = owner_api.get(f"/api/campaigns/{shop.campaign_id}/progress").json()
    assert (body["status"], body["total"], body["sent"], body["fraction"]) == ("draft", 0, 0, 0.0)
    assert body["eta_seconds"] is None and body["rate_per_second"] == 0.0
