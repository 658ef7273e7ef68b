"""End to end: messages sent to the WhatsApp sandbox, its signed webhooks (duplicated,
reordered, batched) received by the real server, and the database agreeing with the sandbox.

The sending side plays the sender's part by hand: mark "sending", call the Cloud API with
our message id as ``biz_opaque_callback_data``, then record the wamid and "sent" with a
conditional update; a fifth of the messages "crash" before that record, so their wamid is
learnt from the webhooks.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from core.bootstrap import Siaran
from core.campaign_counters import Counts
from core.permissions import Actor
from core.whatsapp import AccountCredentials, client_for, connect_account, run_async, sync_templates
from sandbox import SandboxConfig, SandboxServer
from sender.cloud_api import CloudApiClient
from sql.schema import (
    Campaign,
    CampaignMessage,
    ContactPreference,
    WebhookEvent,
    WhatsAppAccount,
    WhatsAppTemplate,
)
from sql.types import utcnow
from tests.core.webhooks import builders
from tests.webhook.meta.conftest import eventually
from webhook.server import create_app

SECRET = "e2e-app-secret-4567"
VERIFY = "e2e-verify-token-4567"
COUNT = 60


def _sandbox(webhook_url: str) -> SandboxConfig:
    return SandboxConfig.model_validate(
        {
            "access_token": "e2e-access-token",
            "app_secret": SECRET,
            "verify_token": VERIFY,
            "latency_ms": 1,
            "latency_jitter_ms": 0,
            "enforce_service_window": False,
            "pair_rate_burst": 1000,
            "timing": {
                "sent_after_ms": 20,
                "delivered_after_ms": 60,
                "read_after_ms": 100,
                "replied_after_ms": 140,
                "jitter": 0.5,
            },
            "outcomes": {
                "delivered": 1,
                "read": 1,
                "replied": 2,
                "failed": 1,
                "failure_codes": {131026: 1},
                "opt_out_rate": 0.4,
            },
            "webhooks": {
                "url": webhook_url,
                "duplicate_rate": 0.4,
                "duplicate_delay_ms": 30,
                "reorder_rate": 0.4,
                "reorder_delay_ms": 40,
                "batch_rate": 0.5,
                "batch_window_ms": 20,
                "retry_base_ms": 100,
                "retry_max_ms": 500,
            },
        }
    )


def _connect(siaran: Siaran, owner: Actor, sandbox_url: str) -> None:
    credentials = AccountCredentials(
        name="Toko Maju (sandbox)",
        waba_id="419561257915477",
        phone_number_id="106540352242922",
        access_token="e2e-access-token",
        app_secret=SECRET,
        verify_token=VERIFY,
        api_base_url=sandbox_url,
        is_sandbox=True,
    )
    with siaran.uow.begin() as session:
        connect_account(session, owner, siaran.secrets, credentials)
    with siaran.uow.begin() as session:
        sync_templates(session, owner, siaran.secrets)


def _send_all(siaran: Siaran, client: CloudApiClient, sent: builders.Sent) -> None:
    async def send() -> list[Any]:
        results = []
        async with client:
            for message_id, phone in zip(sent.message_ids, sent.phones, strict=True):
                results.append(
                    await client.send_text(
                        phone, "Promo akhir tahun!", biz_opaque_callback_data=str(message_id)
                    )
                )
        return results

    results = run_async(send())
    m = CampaignMessage
    for i, (message_id, result) in enumerate(zip(sent.message_ids, results, strict=True)):
        if i % 5 == 0:
            continue  # crashed between the call and the commit
        with siaran.uow.begin() as session:
            moved = session.execute(
                update(m)
                .where(m.id == message_id, m.status == "sending")
                .values(status="sent", wamid=result.wamid, sent_at=utcnow())
            ).rowcount
            if moved:
                session.execute(
                    update(Campaign)
                    .where(Campaign.id == sent.campaign_id)
                    .values(sent_count=Campaign.sent_count + 1)
                )


def test_the_sandboxs_webhooks_leave_the_database_agreeing_with_it(
    siaran: Siaran, owner: Actor, app: FastAPI, serve: Callable[[FastAPI], str]
) -> None:
    base_url = serve(app)
    with SandboxServer(_sandbox(f"{base_url}/webhook")) as sandbox:
        _connect(siaran, owner, sandbox.url)
        control = httpx.Client(base_url=sandbox.url, timeout=10)
        # Meta's handshake against our callback succeeds with the account's verify token.
        assert control.post("/_sandbox/webhooks/verify").json()["verified"] is True
        with siaran.uow.begin() as session:
            sent = builders.sent_campaign(session, COUNT, status="sending", with_wamid=False)
            template = session.scalar(
                select(WhatsAppTemplate).where(
                    WhatsAppTemplate.name == "promo_akhir_tahun", WhatsAppTemplate.language == "id"
                )
            )
            assert template is not None and template.meta_template_id
            second = builders.campaign(session, name="Template promo", template_id=template.id)
        with siaran.uow.session() as session:
            client = client_for(session.scalars(select(WhatsAppAccount)).one(), siaran.secrets)
        _send_all(siaran, client, sent)

        def settled() -> bool:
            emitter = control.get("/_sandbox/webhooks").json()
            with siaran.uow.session() as session:
                unprocessed = session.scalar(
                    select(func.count())
                    .select_from(WebhookEvent)
                    .where(WebhookEvent.state != "processed")
                )
            return emitter["pending"] == 0 and unprocessed == 0

        eventually(settled, 20, "the sandbox to deliver every webhook")
        records = control.get("/_sandbox/messages").json()["data"]
        by_id = {uuid.UUID(r["biz_opaque_callback_data"]): r for r in records}
        assert control.get("/_sandbox/webhooks").json()["dead_letters"] == 0

        def agree() -> bool:
            with siaran.uow.session() as session:
                rows = {
                    m.id: m
                    for m in session.scalars(
                        select(CampaignMessage).where(
                            CampaignMessage.campaign_id == sent.campaign_id
                        )
                    )
                }
            return all(
                rows[i].status == by_id[i]["status"] and rows[i].wamid == by_id[i]["id"]
                for i in sent.message_ids
            )

        eventually(agree, 5, "every message's status to match the sandbox's")
        outcomes = Counter(by_id[i]["outcome"] for i in sent.message_ids)
        statuses = Counter(by_id[i]["status"] for i in sent.message_ids)
        assert outcomes["replied"] and outcomes["failed"] and statuses["read"]
        stored, truth = builders.counters(siaran, sent.campaign_id)
        assert stored == truth
        # A failed message counts as sent only if the sender recorded WhatsApp's acceptance
        # before the failure arrived (a race, both ways right): never more, never fewer.
        assert COUNT - statuses["failed"] <= truth.sent <= COUNT
        assert truth.read == statuses["read"]
        assert truth.delivered == statuses["read"] + statuses["delivered"]
        assert truth.failed == statuses["failed"]
        assert truth.replied == outcomes["replied"]
        with siaran.uow.session() as session:
            opted_out = session.scalars(
                select(ContactPreference.contact_id).where(ContactPreference.opted_out.is_(True))
            ).all()
        assert truth.opted_out == len(opted_out) > 0

        # A customer who opted out writes MULAI: opted back in. (Meta's timestamps are whole
        # seconds and a change must be newer than the last one the other way.)
        time.sleep(1.1)
        comeback = opted_out[0]
        phone = sent.phones[sent.contact_ids.index(comeback)]
        assert (
            control.post("/_sandbox/inbound", json={"from": phone, "text": "MULAI"}).status_code
            == 201
        )

        def opted_in() -> bool:
            with siaran.uow.session() as session:
                preference = session.get(ContactPreference, comeback)
                return preference is not None and not preference.opted_out

        eventually(opted_in, 5, "the opt-in")

        # Meta pauses the template: the campaign using it is paused with the reason.
        assert (
            control.post(
                f"/_sandbox/templates/{template.meta_template_id}/status",
                json={"status": "PAUSED", "reason": "LOW_QUALITY"},
            ).status_code
            == 200
        )

        def paused() -> bool:
            with siaran.uow.session() as session:
                campaign = session.get(Campaign, second.id)
                return campaign is not None and campaign.status == "paused"

        eventually(paused, 5, "the campaign to pause")
        with siaran.uow.session() as session:
            campaign = session.get(Campaign, second.id)
            assert campaign is not None and "LOW_QUALITY" in (campaign.status_reason or "")
        control.close()
        stored, truth = builders.counters(siaran, sent.campaign_id)
        assert stored == truth == Counts(**truth.as_dict())


def test_an_opt_out_is_confirmed_when_the_setting_is_on(
    siaran: Siaran, owner: Actor, serve: Callable[[FastAPI], str]
) -> None:
    confirming = Siaran(
        settings=siaran.settings.model_copy(update={"opt_out_confirmation": True}),
        engine=siaran.engine,
    )
    base_url = serve(create_app(confirming))
    with SandboxServer(_sandbox(f"{base_url}/webhook")) as sandbox:
        _connect(siaran, owner, sandbox.url)
        control = httpx.Client(base_url=sandbox.url, timeout=10)
        customer = "6281234500077"
        written = control.post("/_sandbox/inbound", json={"from": customer, "text": "BERHENTI"})
        assert written.status_code == 201

        def confirmation() -> list[dict[str, Any]]:
            sent = control.get("/_sandbox/messages", params={"to": customer}).json()["data"]
            return [m for m in sent if m["type"] == "text"]

        found = eventually(confirmation, 10, "the confirmation to be sent")
        assert found[0]["text"] == confirming.settings.opt_out_confirmation_text
        with siaran.uow.session() as session:
            preference = session.scalar(select(ContactPreference))
        assert preference is not None and preference.opted_out
        control.close()
