"""What the send-loop tests share: a sandbox, a webhook confirmer and campaigns in the outbox.

``Rig`` ties a running sandbox (real HTTP, small latency) to a migrated database with a
WhatsApp account pointing at it. ``Confirmer`` stands in for the webhook receiver's status
handling: it takes the sandbox's signed status webhooks and records each message they prove
was accepted (``sender.outbox.confirm_sent``, matched by ``biz_opaque_callback_data``), the
path that reconciles a send whose answer was lost. Campaigns are inserted the way
``core.campaigns.launch_campaign`` fills the outbox, for any size and rate.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
from aiohttp import web
from sqlalchemy import func, insert, select

from core.bootstrap import Siaran
from sandbox import SandboxConfig, SandboxServer, ThreadedServer
from sender.lanes import Tuning
from sender.outbox import confirm_sent
from sender.run import RunReport, run_campaign, run_worker
from sql.schema import Campaign, CampaignMessage, Contact, WhatsAppAccount
from sql.types import utcnow

TOKEN = "sender-test-token"
SECRET = "sender-test-secret"
PHONE_ID = "106540352242922"
WABA_ID = "419561257915477"


def sandbox_config(**overrides: Any) -> SandboxConfig:
    """A sandbox answering in ~5 ms that reports every message read within ~30 ms."""
    values: dict[str, Any] = {
        "access_token": TOKEN,
        "app_secret": SECRET,
        "phone_number_id": PHONE_ID,
        "waba_id": WABA_ID,
        "latency_ms": 5,
        "latency_jitter_ms": 2,
        "throughput_per_second": 1000,
        "enforce_service_window": False,
        "outcomes": {"delivered": 0, "read": 1, "replied": 0, "failed": 0},
        "timing": {
            "sent_after_ms": 10,
            "delivered_after_ms": 20,
            "read_after_ms": 30,
            "replied_after_ms": 40,
            "jitter": 0,
        },
        "webhooks": {"batch_rate": 0, "retry_base_ms": 20, "retry_max_ms": 200, "timeout_s": 5},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return SandboxConfig.model_validate(values)


class Confirmer:
    """A webhook endpoint that records the messages status webhooks prove were accepted."""

    def __init__(self, siaran: Siaran) -> None:
        self.siaran = siaran
        self.confirmed = 0
        self.statuses = 0
        app = web.Application()
        app.router.add_post("/webhook", self._receive)
        self.server = ThreadedServer(app)

    @property
    def url(self) -> str:
        return f"{self.server.url}/webhook"

    async def _receive(self, request: web.Request) -> web.Response:
        raw = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Hub-Signature-256", "")):
            return web.Response(status=401)
        proofs = []
        for entry in json.loads(raw).get("entry", []):
            for change in entry.get("changes", []):
                for status in change.get("value", {}).get("statuses", []):
                    self.statuses += 1
                    ours = status.get("biz_opaque_callback_data")
                    if ours and status.get("status") in ("sent", "delivered", "read"):
                        at = datetime.fromtimestamp(int(status["timestamp"]), UTC)
                        proofs.append((uuid.UUID(ours), status["id"], at))
        if proofs:
            await asyncio.to_thread(self._confirm, proofs)
        return web.Response(text="ok")

    def _confirm(self, proofs: list[tuple[uuid.UUID, str, datetime]]) -> None:
        with self.siaran.uow.begin() as session:
            self.confirmed += confirm_sent(session, proofs, now=utcnow())


def text_payload(phone: str, message_id: uuid.UUID, body: str = "Halo, ada promo!") -> dict:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": phone.lstrip("+"),
        "type": "text",
        "text": {"body": body, "preview_url": False},
        "biz_opaque_callback_data": str(message_id),
    }


def phone(campaign_index: int, index: int) -> str:
    """Distinct Indonesian mobile numbers; none ends in the sandbox's not-on-WhatsApp 0000."""
    return f"+628{campaign_index + 1:02d}{index:07d}1"


class Rig:
    """A sandbox, a database with an account on it, and helpers to make and watch campaigns."""

    def __init__(
        self, siaran: Siaran, sandbox: SandboxServer | None = None, throughput: int = 1000
    ) -> None:
        self.siaran = siaran
        self._sandbox = sandbox
        self.campaigns_made = 0
        with siaran.uow.begin() as session:
            account = WhatsAppAccount(
                name="Toko Maju (sandbox)",
                waba_id=WABA_ID,
                phone_number_id=PHONE_ID,
                throughput_per_second=throughput,
                api_base_url=sandbox.url if sandbox else "http://127.0.0.1:9",
                api_version="v25.0",
                access_token_encrypted=siaran.secrets.encrypt(TOKEN),
                app_secret_encrypted=siaran.secrets.encrypt(SECRET),
                verify_token_encrypted=siaran.secrets.encrypt("verify-token"),
                is_sandbox=True,
                is_active=True,
            )
            session.add(account)
            session.flush()
            self.account_id = account.id

    # --- the sandbox ----------------------------------------------------------------------

    @property
    def sandbox(self) -> SandboxServer:
        assert self._sandbox is not None, "this rig has no sandbox"
        return self._sandbox

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.sandbox.url}/_sandbox{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def configure(self, **patch: Any) -> None:
        self.control("PATCH", "/config", json=patch)

    def accepted(self) -> list[dict[str, Any]]:
        """Every message the sandbox accepted, oldest first."""
        found: list[dict[str, Any]] = []
        while True:
            page = self.control(
                "GET", "/messages", params={"after_seq": len(found), "limit": 10_000}
            )["data"]
            if not page:
                return found
            found += page

    def accepted_ids(self) -> Counter[str]:
        return Counter(m["biz_opaque_callback_data"] for m in self.accepted())

    def per_second(self) -> dict[int, int]:
        body = self.control("GET", "/throughput")
        return {row["second"]: row["count"] for row in body["per_second"]}

    def counters(self) -> dict[str, int]:
        body = self.control("GET", "/throughput")
        return {k: body[k] for k in ("accepted", "throughput_limited", "pair_limited")}

    # --- campaigns ------------------------------------------------------------------------

    def campaign(
        self,
        size: int,
        *,
        rate: int = 20,
        status: str = "running",
        name: str | None = None,
        phones: list[str] | None = None,
        payload: Callable[[str, uuid.UUID], dict[str, Any]] = text_payload,
        **values: Any,
    ) -> uuid.UUID:
        """A launched campaign with ``size`` pending messages (and their contacts)."""
        index = self.campaigns_made
        self.campaigns_made += 1
        numbers = phones or [phone(index, i) for i in range(size)]
        values.setdefault("message_content", {"body": "Halo, ada promo!"})
        now = utcnow()
        with self.siaran.uow.begin() as session:
            campaign = Campaign(
                name=name or f"Campaign {index + 1}",
                status=status,
                whatsapp_account_id=self.account_id,
                rate_limit=rate,
                total_recipients=len(numbers),
                started_at=now,
                **values,
            )
            session.add(campaign)
            session.flush()
            known = dict(
                session.execute(
                    select(Contact.phone, Contact.id).where(Contact.phone.in_(numbers))
                ).all()
            )
            contacts = [
                {"id": known.get(number) or uuid.uuid4(), "name": f"Pelanggan {i}",
                 "phone": number, "custom_fields": {}, "created_at": now, "updated_at": now}
                for i, number in enumerate(numbers)
            ]  # fmt: skip
            new = [c for c in contacts if c["phone"] not in known]
            if new:
                session.execute(insert(Contact), new)
            rows = []
            for contact in contacts:
                message_id = uuid.uuid4()
                rows.append(
                    {
                        "id": message_id,
                        "campaign_id": campaign.id,
                        "contact_id": contact["id"],
                        "phone": contact["phone"],
                        "status": "pending",
                        "rendered_content": payload(contact["phone"], message_id),
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            session.execute(insert(CampaignMessage), rows)
            return campaign.id

    def statuses(self, campaign_id: uuid.UUID) -> dict[str, int]:
        with self.siaran.uow.session() as session:
            return dict(
                session.execute(
                    select(CampaignMessage.status, func.count())
                    .where(CampaignMessage.campaign_id == campaign_id)
                    .group_by(CampaignMessage.status)
                ).all()
            )

    def messages(self, campaign_id: uuid.UUID) -> list[CampaignMessage]:
        with self.siaran.uow.session() as session:
            return list(
                session.scalars(
                    select(CampaignMessage).where(CampaignMessage.campaign_id == campaign_id)
                )
            )

    def get(self, campaign_id: uuid.UUID) -> Campaign:
        with self.siaran.uow.session() as session:
            campaign = session.get(Campaign, campaign_id)
            assert campaign is not None
            return campaign

    def run(self, campaign_id: uuid.UUID, **kwargs: Any) -> RunReport:
        kwargs.setdefault("tuning", FAST)
        return run_campaign(self.siaran, campaign_id, **kwargs)

    def run_in_thread(self, campaign_id: uuid.UUID, **kwargs: Any) -> Running:
        return Running(self, campaign_id, **kwargs)


class FaultProxy:
    """Stands between the sender and the sandbox and misbehaves on purpose.

    ``faults[to]`` lists what happens to the next sends to that number (digits): an
    ``(http_status, code)`` error answered without forwarding, ``"drop"`` (the connection
    closes before the request is forwarded: it never reached WhatsApp) or ``"lose"`` (the
    sandbox accepts it, then the connection closes before the answer: it did). Once the
    list is used up, sends are forwarded. ``always[to]`` answers that error every time.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: dict[str, list[Any]] = {}
        self.always: dict[str, tuple[int, int]] = {}
        self.seen: Counter[str] = Counter()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = ThreadedServer(app)

    @property
    def url(self) -> str:
        return self.server.url

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        to = ""
        if request.method == "POST" and request.path.endswith("/messages"):
            to = str(json.loads(raw).get("to", ""))
            self.seen[to] += 1
        planned = self.faults.get(to)
        action: Any = planned.pop(0) if planned else self.always.get(to)
        if isinstance(action, tuple):
            status, code = action
            body = {"error": {"message": f"(#{code}) injected", "type": "OAuthException",
                              "code": code, "fbtrace_id": "proxy"}}  # fmt: skip
            return web.json_response(body, status=status)
        if action == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with (
            aiohttp.ClientSession() as client,
            client.request(
                request.method, self.upstream + request.path_qs, data=raw, headers=headers
            ) as upstream,
        ):
            body = await upstream.read()
            status = upstream.status
        if action == "lose":
            assert request.transport is not None
            request.transport.close()
        return web.Response(body=body, status=status, content_type="application/json")


#: Test timings: as the defaults, but progress saved every half second.
FAST = Tuning(progress_seconds=0.5)


class Running:
    """``run_campaign`` in a background thread, stoppable, with its report when done."""

    def __init__(self, rig: Rig, campaign_id: uuid.UUID, **kwargs: Any) -> None:
        self.stop = threading.Event()
        self.report: RunReport | None = None
        self.error: BaseException | None = None
        kwargs.setdefault("tuning", FAST)

        def target() -> None:
            try:
                self.report = run_campaign(rig.siaran, campaign_id, stop_event=self.stop, **kwargs)
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=target, name="test-sender", daemon=True)
        self.thread.start()

    def join(self, timeout: float = 60.0) -> RunReport:
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.stop.set()
            self.thread.join(30)
            raise AssertionError(f"the sender did not finish within {timeout} s")
        if self.error is not None:
            raise self.error
        assert self.report is not None
        return self.report


class Worker:
    """``run_worker`` in a background thread until ``stop()``."""

    def __init__(self, rig: Rig, **kwargs: Any) -> None:
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        kwargs.setdefault("tuning", FAST)

        def target() -> None:
            try:
                run_worker(rig.siaran, stop_event=self.stop_event, **kwargs)
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=target, name="test-worker", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "the worker did not stop"
        if self.error is not None:
            raise self.error


def wait_for(
    condition: Callable[[], Any], timeout: float = 10.0, what: str = "it", every: float = 0.02
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")
