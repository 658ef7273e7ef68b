"""Cloud API client throughput: requests/s with 128 and 512 sends in flight, per transport.

The server answers every send after 100 ms, in its own process so it does not share the
client's event loop: the sandbox (``--server sandbox``, latency set to 100 ms, limits
lifted) or a minimal aiohttp app (``--server minimal``). The ceiling is in_flight / 0.1 s.

    .venv/bin/python bench/bench_client.py --server sandbox --seconds 8
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import time
from collections.abc import Callable

import httpx

from sender.cloud_api import CloudApiClient, scalable_transport

LATENCY_S = 0.1
TOKEN = "bench-token"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "419561257915477"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_minimal(port: int) -> None:
    """A server that accepts every send after LATENCY_S, answering like the Cloud API."""
    from aiohttp import web

    counter = iter(range(10**12))

    async def messages(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(LATENCY_S)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": f"wamid.bench{next(counter)}", "message_status": "accepted"}],
            }
        )

    app = web.Application()
    app.router.add_post(f"/v25.0/{PHONE_NUMBER_ID}/messages", messages)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _serve_sandbox(port: int) -> None:
    """The project's sandbox at 100 ms latency, its limits lifted so only latency counts."""
    from sandbox.config import SandboxConfig
    from sandbox.server import serve

    config = SandboxConfig(
        access_token=TOKEN,
        phone_number_id=PHONE_NUMBER_ID,
        waba_id=WABA_ID,
        latency_ms=LATENCY_S * 1000,
        latency_jitter_ms=0,
        throughput_per_second=100_000,
        pair_rate_interval_s=0,
    )
    serve(config, "127.0.0.1", port, announce=lambda _: None)


def _wait_until_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the bench server did not listen on port {port}")


async def _measure(
    base_url: str, transport: httpx.AsyncBaseTransport, in_flight: int, seconds: float
) -> tuple[float, int, int]:
    """(requests/s, completed, failed) with ``in_flight`` workers sending for ``seconds``."""
    client = CloudApiClient(base_url, TOKEN, PHONE_NUMBER_ID, WABA_ID, transport=transport)
    completed = failed = 0

    async def worker(number: int) -> None:
        nonlocal completed, failed
        sequence = 0
        while time.monotonic() < deadline:
            sequence += 1
            # Distinct recipients, so the sandbox's pair rate limit never applies.
            to = f"62811{number:04d}{sequence % 10000:04d}"
            try:
                await client.send_text(
                    to, "Halo", biz_opaque_callback_data=f"b-{number}-{sequence}"
                )
                completed += 1
            except Exception:
                failed += 1

    async with client:
        # Warm up: open the connections before timing.
        await asyncio.gather(
            *(
                client.send_text(f"6281199{n:06d}", "warm", biz_opaque_callback_data="w")
                for n in range(min(in_flight, 64))
            )
        )
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(worker(n) for n in range(in_flight)))
        elapsed = time.monotonic() - started
    return completed / elapsed, completed, failed


TRANSPORTS: dict[str, Callable[[int], httpx.AsyncBaseTransport]] = {
    "httpx default": lambda n: httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=n, max_keepalive_connections=n)
    ),
    "httpx + aiohttp (chosen)": lambda n: scalable_transport(n),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=["sandbox", "minimal"], default="sandbox")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[128, 512])
    args = parser.parse_args()

    port = _free_port()
    target = _serve_sandbox if args.server == "sandbox" else _serve_minimal
    server = multiprocessing.get_context("spawn").Process(target=target, args=(port,), daemon=True)
    server.start()
    try:
        _wait_until_listening(port)
        base_url = f"http://127.0.0.1:{port}"
        print(
            f"server: {args.server}, latency {LATENCY_S * 1000:.0f} ms, {args.seconds:.0f} s each"
        )
        print(f"{'transport':<26} {'in flight':>9} {'req/s':>8} {'ceiling':>8} {'failed':>7}")
        for in_flight in args.in_flight:
            for name, make in TRANSPORTS.items():
                rate, _, failed = asyncio.run(
                    _measure(base_url, make(in_flight), in_flight, args.seconds)
                )
                ceiling = in_flight / LATENCY_S
                print(f"{name:<26} {in_flight:>9} {rate:>8.0f} {ceiling:>8.0f} {failed:>7}")
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
