"""Helpers for the sandbox tests: fast configs, request bodies, a webhook receiver.

The receiver is a small aiohttp app that checks every POST's ``X-Hub-Signature-256``
itself (HMAC-SHA256 of the raw body with the app secret, computed here, not with the
sandbox's code), answers 401 to bad signatures, and can be told to fail with 500 first.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from aiohttp import web

from sandbox import SandboxConfig, SandboxServer, ThreadedServer
from tests.conftest import tls_context

TOKEN = "test-token"
SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
PHONE_ID = "106540352242922"
WABA_ID = "419561257915477"
VERSION = "v25.0"
MESSAGES = f"/{VERSION}/{PHONE_ID}/messages"


def fast_config(**overrides: Any) -> SandboxConfig:
    """A sandbox that answers in milliseconds and fires webhooks almost at once."""
    values: dict[str, Any] = {
        "access_token": TOKEN,
        "app_secret": SECRET,
        "verify_token": VERIFY_TOKEN,
        "phone_number_id": PHONE_ID,
        "waba_id": WABA_ID,
        "latency_ms": 2,
        "latency_jitter_ms": 1,
        "timing": {
            "sent_after_ms": 10,
            "delivered_after_ms": 20,
            "read_after_ms": 30,
            "replied_after_ms": 40,
            "jitter": 0,
        },
        "outcomes": {"delivered": 0, "read": 1, "replied": 0, "failed": 0},
        "webhooks": {"retry_base_ms": 20, "retry_max_ms": 100, "batch_rate": 0, "timeout_s": 2},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return SandboxConfig.model_validate(values)


def expected_signature(raw: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def wait_for(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class Receiver:
    """Records signed webhook POSTs; rejects bad signatures; can fail on purpose."""

    def __init__(self) -> None:
        self.posts: list[tuple[bytes, str]] = []  # (raw body, signature header), accepted
        self.rejected: list[bytes] = []
        self.fail_next = 0
        self.failures = 0
        self.delay_s = 0.0  # answer every POST this late (to test timeouts and slowness)
        self.app = web.Application()
        self.app.router.add_post("/webhook", self._post)
        self.app.router.add_get("/webhook", self._verify)
        self.server = ThreadedServer(self.app)

    @property
    def url(self) -> str:
        return self.server.url + "/webhook"

    async def _post(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        header = request.headers.get("X-Hub-Signature-256", "")
        if not hmac.compare_digest(expected_signature(raw), header):
            self.rejected.append(raw)
            return web.Response(status=401)
        if self.fail_next > 0:
            self.fail_next -= 1
            self.failures += 1
            return web.Response(status=500)
        self.posts.append((raw, header))
        return web.Response(text="ok")

    async def _verify(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("hub.mode") == "subscribe" and query.get("hub.verify_token") == VERIFY_TOKEN:
            return web.Response(text=query.get("hub.challenge", ""))
        return web.Response(status=403)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw, _ in list(self.posts)]

    def changes(self, field: str = "messages") -> list[dict[str, Any]]:
        return [
            change["value"]
            for body in self.bodies
            for entry in body["entry"]
            for change in entry["changes"]
            if change["field"] == field
        ]

    def statuses(self) -> list[dict[str, Any]]:
        return [status for value in self.changes() for status in value.get("statuses", [])]

    def inbound(self) -> list[dict[str, Any]]:
        return [message for value in self.changes() for message in value.get("messages", [])]


def client_for(server: SandboxServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
        verify=tls_context(),
    )


def text_message(to: str = "6281234567890", body: str = "Halo", **extra: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": False, "body": body},
        **extra,
    }


def template_message(
    name: str,
    language: str,
    components: list[dict[str, Any]] | None = None,
    to: str = "6281234567890",
    **extra: Any,
) -> dict[str, Any]:
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components is not None:
        template["components"] = components
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": template,
        **extra,
    }


def body_parameters(*values: str) -> dict[str, Any]:
    return {"type": "body", "parameters": [{"type": "text", "text": v} for v in values]}


def promo_components(image: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Valid components for the library's promo_akhir_tahun (image header, 3 vars, URL button)."""
    image = image or {"link": "https://tokomaju.example/promo.jpg"}
    url_parameter = {"type": "text", "text": "akhir-tahun"}
    return [
        {"type": "header", "parameters": [{"type": "image", "image": image}]},
        body_parameters("Budi", "50%", "31 Desember"),
        {"type": "button", "sub_type": "url", "index": "1", "parameters": [url_parameter]},
    ]


def graph_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["type"] in ("OAuthException", "GraphMethodException")
    assert error["fbtrace_id"]
    return error
