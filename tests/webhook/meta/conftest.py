"""Meta's side of the receiver: signed POSTs to a real server, and waiting for processing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.bootstrap import Siaran
from sql.schema import WhatsAppAccount
from tests.core.webhooks import builders
from tests.core.webhooks.payloads import encode, signature

Post = Callable[..., httpx.Response]


@pytest.fixture
def account(siaran: Siaran) -> WhatsAppAccount:
    with siaran.uow.begin() as session:
        return builders.account(session, siaran)


@pytest.fixture
def meta(api: httpx.Client) -> Post:
    """POST a body to /webhook as Meta would: raw bytes, signed with the app secret."""

    def post(
        body: dict[str, Any] | bytes,
        *,
        sign: bool = True,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        raw = body if isinstance(body, bytes) else encode(body)
        sent = {"Content-Type": "application/json", **(headers or {})}
        if sign:
            sent["X-Hub-Signature-256"] = (
                signature(raw) if secret is None else signature(raw, secret)
            )
        return api.post("/webhook", content=raw, headers=sent)

    return post


def eventually(check: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy (processing follows the 200)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
