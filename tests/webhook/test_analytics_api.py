"""Campaign analytics over HTTP: role checks, every endpoint, retry and export."""

from __future__ import annotations

import io
import uuid

import httpx
import polars as pl
import pytest
from sqlalchemy import select

from core.analytics import refresh, report
from core.analytics.warehouse import Warehouse
from core.bootstrap import Siaran
from core.permissions import Actor
from sql.schema import AuditLog, CampaignMessage
from sql.types import utcnow
from tests.core.analytics import scenario
from tests.core.analytics.scenario import EXPECTED_METRICS, EXPECTED_STATUSES, Scenario

READS = ["analytics", "messages", "tracking", "engagement", "timeline", "replies", "export"]


@pytest.fixture
def shop(siaran: Siaran) -> Scenario:
    return scenario.build(siaran.uow)


def url(shop: Scenario, what: str) -> str:
    return f"/api/campaigns/{shop.campaign_id}/{what}"


@pytest.mark.parametrize("what", READS)
def test_supervisors_read_agents_and_strangers_may_not(
    what: str, shop: Scenario, api: httpx.Client, agent_api: httpx.Client,
    supervisor_api: httpx.Client,
) -> None:  # fmt: skip
    assert supervisor_api.get(url(shop, what)).status_code == 200
    denied = agent_api.get(url(shop, what))
    assert denied.status_code == 403 and "analytics" in denied.json()["detail"]
    assert api.get(url(shop, what)).status_code == 401


def test_analytics_are_the_core_reports_numbers(
    shop: Scenario, siaran: Siaran, owner: Actor, owner_api: httpx.Client
) -> None:
    body = owner_api.get(url(shop, "analytics")).json()
    assert body["source"]["kind"] == "live"  # nothing published yet
    for name, value in EXPECTED_METRICS.items():
        assert body["metrics"][name] == pytest.approx(value), name
    assert body["statuses"] == EXPECTED_STATUSES
    assert [b["replies"] for b in body["reply_latency"]] == [0, 1, 0, 1, 0, 0, 0, 1, 0]
    assert {(f["error_code"], f["retryable"]) for f in body["failures"]} == {
        (131026, False), (131000, True),
    }  # fmt: skip
    warehouse = Warehouse.for_settings(siaran.settings)
    refresh.refresh(warehouse, siaran.engine, siaran.settings)
    published = owner_api.get(url(shop, "analytics")).json()
    assert published["source"]["kind"] == "warehouse"
    assert published["metrics"] == body["metrics"]
    with siaran.uow.session() as session:
        core = report.campaign_report(
            session, owner, shop.campaign_id, warehouse=warehouse, settings=siaran.settings
        )
    assert published["metrics"] == core.metrics.as_dict()
    missing = owner_api.get(f"/api/campaigns/{uuid.uuid4()}/analytics")
    assert missing.status_code == 404


def test_messages_filter_by_status_and_mask_phones_by_role(
    shop: Scenario, owner_api: httpx.Client, supervisor_api: httpx.Client
) -> None:
    failed = supervisor_api.get(url(shop, "messages"), params={"status": "failed"}).json()
    assert failed["total"] == 2 and not failed["has_more"]
    assert all(item["phone_masked"] and "•" in item["phone"] for item in failed["items"])
    assert sorted(item["retryable"] for item in failed["items"]) == [False, True]
    full = owner_api.get(url(shop, "messages"), params={"limit": 4, "offset": 8}).json()
    assert full["total"] == 10 and len(full["items"]) == 2 and not full["has_more"]
    assert not full["items"][0]["phone_masked"]
    bad = owner_api.get(url(shop, "messages"), params={"status": "bounced"})
    assert bad.status_code == 422


def test_tracking_shows_each_messages_timeline_and_its_webhooks(
    shop: Scenario, siaran: Siaran, owner_api: httpx.Client
) -> None:
    page = owner_api.get(url(shop, "tracking"), params={"limit": 100}).json()
    assert page["total"] == 10
    m10 = next(i for i in page["items"] if i["id"] == str(shop.messages["m10"]))
    assert [step["event"] for step in m10["timeline"]] == [
        "sent", "delivered", "read", "replied", "opted_out",
    ]  # fmt: skip
    assert m10["seconds_to_reply"] == 93600 and m10["webhook_events"] is None
    now = utcnow()
    scenario.webhook(
        siaran.uow,
        scenario.envelope(
            {
                "statuses": [
                    scenario.status("wamid.m6", "delivered", now, callback=shop.messages["m6"])
                ]
            }
        ),
        now,
    )
    refresh.refresh(Warehouse.for_settings(siaran.settings), siaran.engine, siaran.settings)
    one = owner_api.get(url(shop, "tracking"), params={"message_id": str(shop.messages["m6"])})
    (item,) = one.json()["items"]
    assert [(e["kind"], e["status"], e["matched_by"]) for e in item["webhook_events"]] == [
        ("status", "delivered", "callback")
    ]
    foreign = owner_api.get(url(shop, "tracking"), params={"message_id": str(uuid.uuid4())})
    assert foreign.status_code == 404


def test_engagement_and_timeline(shop: Scenario, supervisor_api: httpx.Client) -> None:
    engagement = supervisor_api.get(url(shop, "engagement")).json()
    assert engagement["timezone"] == "Asia/Jakarta" and len(engagement["by_hour"]) == 24
    assert engagement["by_hour"][9]["sent"] == 8
    assert engagement["by_weekday"][0] == {
        "weekday": 1, "day_name": "Monday", "sent": 8, "delivered": 6, "read": 2, "replied": 2,
        "failed": 2, "opted_out": 1,
    }  # fmt: skip
    daily = supervisor_api.get(url(shop, "timeline"), params={"granularity": "daily"}).json()
    assert [(p["period"], p["read"]) for p in daily["points"]] == [
        ("2024-03-04", 2), ("2024-03-05", 1),
    ]  # fmt: skip
    hourly = supervisor_api.get(url(shop, "timeline")).json()
    assert hourly["granularity"] == "hourly" and len(hourly["points"]) == 28
    assert hourly["points"][0]["period"] == "2024-03-04T09:00:00"
    weekly = supervisor_api.get(url(shop, "timeline"), params={"granularity": "weekly"})
    assert weekly.status_code == 422


def test_replies_newest_first(shop: Scenario, supervisor_api: httpx.Client) -> None:
    page = supervisor_api.get(url(shop, "replies"), params={"limit": 2}).json()
    assert page["total"] == 3 and page["has_more"]
    assert [r["reply_text"] for r in page["items"]] == ["STOP", "Berapa harganya?"]


def test_only_owners_retry_and_only_retryable_failures(
    shop: Scenario, siaran: Siaran, owner_api: httpx.Client, supervisor_api: httpx.Client
) -> None:
    assert supervisor_api.post(url(shop, "retry"), json={}).status_code == 403
    chosen = owner_api.post(url(shop, "retry"), json={"message_ids": [str(shop.messages["m7"])]})
    assert chosen.status_code == 200
    assert chosen.json() == {
        "retried": 0, "skipped": {"not retryable (recipient)": 1}, "reopened": False,
    }  # fmt: skip
    everything = owner_api.post(url(shop, "retry")).json()
    assert everything["retried"] == 1
    with siaran.uow.session() as session:
        retried = session.get(CampaignMessage, shop.messages["m8"])
        assert retried is not None and retried.status == "pending"
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.target_id == str(shop.campaign_id))
        ).all()
    assert actions.count("campaign.retry") == 2
    left = owner_api.get(url(shop, "messages"), params={"status": "failed"}).json()
    assert [item["error_code"] for item in left["items"]] == [131026]


@pytest.mark.parametrize(("fmt", "kind"), [("parquet", "tracking"), ("csv", "report"),
                                           ("xlsx", "report")])  # fmt: skip
def test_export_downloads_a_file_polars_reads(
    fmt: str, kind: str, shop: Scenario, supervisor_api: httpx.Client
) -> None:
    response = supervisor_api.get(url(shop, "export"), params={"format": fmt, "kind": kind})
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert f'filename="promo-ramadan-{kind}.{fmt}"' in disposition
    data = io.BytesIO(response.content)
    table = {"parquet": pl.read_parquet, "csv": pl.read_csv}.get(fmt, pl.read_excel)(data)
    assert table.height == (10 if kind == "tracking" else 23)
    bad = supervisor_api.get(url(shop, "export"), params={"format": "pdf"})
    assert bad.status_code == 422
