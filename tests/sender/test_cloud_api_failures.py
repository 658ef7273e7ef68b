"""The client under network failures and odd answers the sandbox does not produce.

Real HTTP against tiny local servers: a closed port, a server that hangs up or stalls,
and an aiohttp app answering garbage, HTML gateway pages, Retry-After and looping pages.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from aiohttp import web

from sender.cloud_api import CloudApiClient
from sender.errors import NetworkError, ThrottledError, TransientError

pytestmark = pytest.mark.anyio
TO = "6281234567890"


def client_for(base_url: str, **kwargs: object) -> CloudApiClient:
    return CloudApiClient(base_url, "secret-token", "1065", "4195", **kwargs)  # type: ignore[arg-type]


async def send(client: CloudApiClient) -> None:
    await client.send_text(TO, "Halo", biz_opaque_callback_data="msg-1")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_refused_connection_is_retryable_and_certainly_not_sent() -> None:
    async with client_for(f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(NetworkError) as caught:
            await send(client)
    assert caught.value.retryable
    assert caught.value.outcome_unknown is False
    assert "could not connect" in caught.value.message


async def raw_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def test_hang_up_after_the_request_leaves_the_outcome_unknown() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server, url = await raw_server(hang_up)
    async with server, client_for(url) as client:
        with pytest.raises(NetworkError) as caught:
            await send(client)
    assert caught.value.outcome_unknown is True
    assert "may have been sent" in caught.value.message


async def test_timeout_leaves_the_outcome_unknown() -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(5)

    server, url = await raw_server(stall)
    async with server, client_for(url, timeout=httpx.Timeout(0.3)) as client:
        with pytest.raises(NetworkError) as caught:
            await send(client)
    assert caught.value.outcome_unknown is True


@pytest.fixture
async def odd_server() -> AsyncIterator[tuple[str, list[web.Request]]]:
    seen: list[web.Request] = []

    async def messages(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        mode = (await request.json())["text"]["body"]
        if mode == "garbage":
            return web.Response(text="<html>ok</html>", content_type="text/html")
        if mode == "gateway":
            return web.Response(status=502, text="<html>Bad gateway</html>")
        if mode == "slow down":
            return web.json_response(
                {"error": {"message": "(#130429) Rate limit hit", "code": 130429}},
                status=429,
                headers={"Retry-After": "12"},
            )
        return web.json_response({"messaging_product": "whatsapp", "messages": [{}]})

    async def templates(request: web.Request) -> web.Response:
        seen.append(request)
        page = {"data": [], "paging": {"cursors": {"after": "SAME"}, "next": "http://x/next"}}
        return web.json_response(page)

    async def phone_number(request: web.Request) -> web.Response:
        seen.append(request)
        # An older API version: the portfolio-level messaging limit field does not exist yet.
        if "whatsapp_business_manager_messaging_limit" in request.query["fields"]:
            return web.json_response(
                {"error": {"message": "(#100) Tried accessing nonexisting field", "code": 100}},
                status=400,
            )
        return web.json_response(
            {"id": "1065", "verified_name": "Toko Lama", "messaging_limit_tier": "TIER_1K"}
        )

    app = web.Application()
    app.router.add_get("/v25.0/1065", phone_number)
    app.router.add_post("/v25.0/1065/messages", messages)
    app.router.add_get("/v25.0/4195/message_templates", templates)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_odd_answers(odd_server: tuple[str, list[web.Request]]) -> None:
    url, seen = odd_server
    async with client_for(url) as client:
        with pytest.raises(NetworkError) as garbage:
            await client.send_text(TO, "garbage", biz_opaque_callback_data="m")
        assert garbage.value.outcome_unknown is True

        with pytest.raises(TransientError) as gateway:
            await client.send_text(TO, "gateway", biz_opaque_callback_data="m")
        assert gateway.value.http_status == 502 and gateway.value.code is None

        with pytest.raises(ThrottledError) as throttled:
            await client.send_text(TO, "slow down", biz_opaque_callback_data="m")
        assert throttled.value.retry_after == 12.0
        assert throttled.value.retry_delay(1) == 12.0

        with pytest.raises(NetworkError, match="no message id") as no_id:
            await client.send_text(TO, "no id", biz_opaque_callback_data="m")
        assert no_id.value.outcome_unknown is True

        with pytest.raises(NetworkError, match="same page"):
            _ = [template async for template in client.list_templates()]

        info = await client.get_phone_number_info()
        assert (info.verified_name, info.messaging_limit_tier) == ("Toko Lama", "TIER_1K")

    assert seen[0].headers["Authorization"] == "Bearer secret-token"
    assert "secret-token" not in repr(client)
    assert seen[-3].query["after"] == "SAME"
