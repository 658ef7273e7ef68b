"""Sending through the API over real HTTP: send now, pause and resume, test sends, progress.

Without Dagster, "Send now" sends from a thread of the API server (``core.sending``); the
sandbox answers like WhatsApp and posts its signed status webhooks back to the same
server, so the statuses the test reads went the whole way round.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from core.bootstrap import Siaran
from core.campaigns import launch_campaign, notify_campaign, pause_campaign
from core.permissions import Actor
from core.sandbox_account import connect_sandbox_if_unconnected
from core.sending import stop_local_drivers
from core.settings import Settings
from core.whatsapp import active_account
from sandbox import SandboxConfig, SandboxServer
from sql.schema import AuditLog, Campaign, CampaignMessage, Notification
from tests.core.campaigns import builders
from tests.webhook.campaign_shop import campaign, no_dagster, open_shop, wait_for


@pytest.fixture
def siaran(settings: Settings, engine: Engine) -> Siaran:
    return no_dagster(settings, engine)


@pytest.fixture(autouse=True)
def senders_stopped(siaran: Siaran) -> Iterator[None]:
    """Local senders end before the database they write to goes away."""
    yield
    assert stop_local_drivers(timeout=30) == 0


@pytest.fixture
def sandbox(base_url: str) -> Iterator[SandboxServer]:
    config = SandboxConfig(
        latency_ms=2,
        latency_jitter_ms=0,
        enforce_service_window=False,
        outcomes={"delivered": 0, "read": 1, "replied": 0, "failed": 0},
        timing={"sent_after_ms": 10, "delivered_after_ms": 20, "read_after_ms": 30, "jitter": 0},
        webhooks={"url": f"{base_url}/webhook", "batch_rate": 0, "retry_base_ms": 50},
    )
    with SandboxServer(config) as server:
        yield server


@pytest.fixture
def account_id(siaran: Siaran, sandbox: SandboxServer) -> uuid.UUID:
    connect_sandbox_if_unconnected(siaran, sandbox.url)
    with siaran.uow.session() as session:
        account = active_account(session)
        assert account is not None
        return account.id


def accepted(sandbox: SandboxServer) -> list[dict[str, Any]]:
    response = httpx.get(f"{sandbox.url}/_sandbox/messages", params={"limit": 10_000})
    return response.json()["data"]


def message_statuses(siaran: Siaran, campaign_id: uuid.UUID) -> dict[str, int]:
    with siaran.uow.session() as session:
        rows = session.execute(
            select(CampaignMessage.status, func.count())
            .where(CampaignMessage.campaign_id == campaign_id)
            .group_by(CampaignMessage.status)
        ).all()
    return dict(rows)  # type: ignore[arg-type]


def test_send_now_delivers_a_small_campaign_end_to_end(
    owner_api: httpx.Client,
    supervisor_api: httpx.Client,
    siaran: Siaran,
    owner: Actor,
    sandbox: SandboxServer,
    account_id: uuid.UUID,
) -> None:
    shop = open_shop(siaran, owner, account_id=account_id)

    response = owner_api.post(f"/api/campaigns/{shop.campaign_id}/send")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dispatch"]["via"] == "local", body
    assert (body["launch"]["members"], body["launch"]["recipients"]) == (3, 3)
    assert body["campaign"]["status"] in ("running", "completed")
    wait_for(
        lambda: campaign(supervisor_api, shop.campaign_id)["status"] == "completed",
        what="the campaign to complete",
    )
    progress = supervisor_api.get(f"/api/campaigns/{shop.campaign_id}/progress").json()
    assert (progress["sent"], progress["total"], progress["queued"]) == (3, 3, 0)
    assert progress["fraction"] == 1.0 and progress["eta_seconds"] is None
    # Exactly one message per customer reached WhatsApp, each personalized.
    texts = sorted((m["wa_id"], m["text"]) for m in accepted(sandbox))
    assert texts == [
        ("6281100000001", "Halo Ani di Bandung!"),
        ("6281100000002", "Halo Budi di Jakarta!"),
        ("6281100000003", "Halo Citra di kota Anda!"),
    ]
    # The sandbox's status webhooks came back through /webhook and were recorded.
    wait_for(
        lambda: message_statuses(siaran, shop.campaign_id) == {"read": 3},
        what="read statuses from the webhooks",
    )
    wait_for(lambda: campaign(owner_api, shop.campaign_id)["read_count"] == 3, what="counters")
    with siaran.uow.session() as session:
        launch = session.scalar(
            select(AuditLog).where(
                AuditLog.target_id == str(shop.campaign_id), AuditLog.action == "campaign.launch"
            )
        )
        assert launch is not None and launch.actor_id == owner.id
    kinds = [n["kind"] for n in owner_api.get("/api/notifications").json()]
    assert kinds[:2] == ["campaign_completed", "campaign_started"]  # newest first


def test_send_now_refuses_with_the_reason(
    owner_api: httpx.Client, siaran: Siaran, owner: Actor, account_id: uuid.UUID
) -> None:
    shop = open_shop(siaran, owner, account_id=account_id)
    with siaran.uow.begin() as session:
        for contact_id in shop.contacts.values():
            contact = session.get(builders.Contact, contact_id)
            assert contact is not None
            builders.opt_out(session, contact)

    response = owner_api.post(f"/api/campaigns/{shop.campaign_id}/send")

    assert response.status_code == 422, response.text
    assert "has no one to send to" in response.json()["detail"]
    assert "3 opted out" in response.json()["detail"]
    assert campaign(owner_api, shop.campaign_id)["status"] == "draft"
    assert message_statuses(siaran, shop.campaign_id) == {}


def test_pause_stops_sending_and_resume_finishes_the_campaign(
    owner_api: httpx.Client,
    siaran: Siaran,
    owner: Actor,
    sandbox: SandboxServer,
    account_id: uuid.UUID,
) -> None:
    with siaran.uow.begin() as session:
        people = [
            builders.contact(session, f"Pelanggan {i}", f"+62811000002{i:02d}") for i in range(12)
        ]
        segment = builders.static_segment(session, "Dua belas", people)
        campaign_id = builders.campaign(
            session,
            "Pelan",
            segment_id=segment.id,
            whatsapp_account_id=account_id,
            message_content={"body": "Halo {name}"},
            rate_limit=4,
        ).id

    assert owner_api.post(f"/api/campaigns/{campaign_id}/send").status_code == 200
    wait_for(lambda: len(accepted(sandbox)) >= 1, what="the first message")
    paused = owner_api.post(f"/api/campaigns/{campaign_id}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    time.sleep(1.0)  # the sender sees the pause within a second
    at_pause = len(accepted(sandbox))
    time.sleep(1.5)
    assert len(accepted(sandbox)) == at_pause < 12  # nothing more went out while paused
    assert campaign(owner_api, campaign_id)["status"] == "paused"

    resumed = owner_api.post(f"/api/campaigns/{campaign_id}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["campaign"]["status"] in ("running", "completed")
    assert resumed.json()["dispatch"]["via"] in ("already", "local")
    wait_for(lambda: campaign(owner_api, campaign_id)["status"] == "completed", what="completion")
    phones = [m["wa_id"] for m in accepted(sandbox)]
    assert len(phones) == len(set(phones)) == 12  # every customer once, none twice


def test_resume_after_the_sender_ended_starts_a_new_one(
    owner_api: httpx.Client,
    siaran: Siaran,
    owner: Actor,
    sandbox: SandboxServer,
    account_id: uuid.UUID,
) -> None:
    shop = open_shop(siaran, owner, account_id=account_id)
    with siaran.uow.begin() as session:  # launched and paused with no sender left running
        launch_campaign(session, owner, shop.campaign_id, settings=siaran.settings)
    with siaran.uow.begin() as session:
        pause_campaign(session, owner, shop.campaign_id, settings=siaran.settings)

    resumed = owner_api.post(f"/api/campaigns/{shop.campaign_id}/resume")

    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["dispatch"]["via"] == "local"
    wait_for(lambda: campaign(owner_api, shop.campaign_id)["status"] == "completed")
    assert len(accepted(sandbox)) == 3


def test_test_send_goes_to_the_given_number_only(
    owner_api: httpx.Client,
    siaran: Siaran,
    owner: Actor,
    sandbox: SandboxServer,
    account_id: uuid.UUID,
) -> None:
    shop = open_shop(siaran, owner, account_id=account_id)

    response = owner_api.post(
        f"/api/campaigns/{shop.campaign_id}/test-send",
        json={"phone": "0812-9999-1234", "contact_id": str(shop.contacts["Budi"])},
    )

    assert response.status_code == 200, response.text
    assert response.json()["to"] == "+6281299991234" and response.json()["wamid"]
    [sent] = accepted(sandbox)
    assert (sent["wa_id"], sent["text"]) == ("6281299991234", "Halo Budi di Jakarta!")
    assert campaign(owner_api, shop.campaign_id)["status"] == "draft"
    with siaran.uow.session() as session:
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.target_id == str(shop.campaign_id))
        ).all()
    assert "campaign.test_send" in actions
    invalid = owner_api.post(
        f"/api/campaigns/{shop.campaign_id}/test-send", json={"phone": "0812-12"}
    )
    assert invalid.status_code == 422, invalid.text
    assert len(accepted(sandbox)) == 1


# --- notifications --------------------------------------------------------------------------


def test_notifications_are_personal_newest_first_and_can_be_read(
    owner_api: httpx.Client,
    supervisor_api: httpx.Client,
    agent_api: httpx.Client,
    siaran: Siaran,
    owner: Actor,
) -> None:
    with siaran.uow.begin() as session:
        promo = builders.campaign(session, "Promo", status="running", created_by=owner.id)
        notify_campaign(session, promo, "started", settings=siaran.settings)
        promo.status = "completed"
        notify_campaign(session, promo, "completed", settings=siaran.settings)

    mine = owner_api.get("/api/notifications").json()
    assert [n["title"] for n in mine] == [
        "Campaign 'Promo' completed",
        "Campaign 'Promo' started",
    ]
    assert all(n["read_at"] is None and n["campaign_id"] == str(promo.id) for n in mine)
    assert supervisor_api.get("/api/notifications").json() == []  # owners are told
    assert agent_api.get("/api/notifications").status_code == 200

    # Someone else's notification is not yours to read.
    elsewhere = supervisor_api.post(f"/api/notifications/{mine[0]['id']}/read")
    assert elsewhere.status_code == 404
    read = owner_api.post(f"/api/notifications/{mine[0]['id']}/read")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    again = owner_api.post(f"/api/notifications/{mine[0]['id']}/read")
    assert again.status_code == 200 and again.json()["read_at"] == read.json()["read_at"]
    unread = owner_api.get("/api/notifications", params={"unread_only": True}).json()
    assert [n["id"] for n in unread] == [mine[1]["id"]]
    assert owner_api.post("/api/notifications/read").json() == {"marked": 1}
    assert owner_api.get("/api/notifications", params={"unread_only": True}).json() == []
    assert owner_api.post(f"/api/notifications/{uuid.uuid4()}/read").status_code == 404
    with siaran.uow.session() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 2
        assert session.get(Campaign, promo.id) is not None
