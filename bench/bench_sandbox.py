"""WhatsApp sandbox throughput: accepted template sends per second at 150 ms latency.

The sandbox runs in its own process (as under ``siaran up``); the client is plain aiohttp on
uvloop with ``--in-flight`` workers, each sending template messages (image header, three body
variables, URL button: the heaviest validation path) to distinct recipients, back to back.

Scenarios:
- ``capacity``: throughput limit lifted; how many sends/s the sandbox sustains.
- ``limited``: the limit at Meta's highest tier (1,000/s); the client pushes past it, and the
  sandbox's per-second histogram must never show a second above the limit.
- ``--webhooks`` adds a receiver process so every message's sent/delivered/read webhooks are
  signed and delivered while the API is under load.

    .venv/bin/python bench/bench_sandbox.py --scenario capacity --in-flight 400 --seconds 20
    .venv/bin/python bench/bench_sandbox.py --scenario limited --in-flight 400 --seconds 20
    .venv/bin/python bench/bench_sandbox.py --scenario capacity --webhooks --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import time
from typing import Any

import aiohttp

TOKEN = "bench-token"
PHONE_NUMBER_ID = "106540352242922"
LATENCY_MS = 150.0
JITTER_MS = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_sandbox(port: int, throughput: int, webhook_url: str | None) -> None:
    from sandbox.config import SandboxConfig
    from sandbox.server import serve

    config = SandboxConfig.model_validate(
        {
            "access_token": TOKEN,
            "phone_number_id": PHONE_NUMBER_ID,
            "latency_ms": LATENCY_MS,
            "latency_jitter_ms": JITTER_MS,
            "throughput_per_second": throughput,
            "webhooks": {"url": webhook_url},
            # Statuses within seconds, so the webhook load is that of the sends being made.
            "timing": {"sent_after_ms": 200, "delivered_after_ms": 800, "read_after_ms": 2000,
                       "replied_after_ms": 4000},
        }
    )  # fmt: skip
    serve(config, "127.0.0.1", port, announce=lambda _: None)


def _serve_receiver(port: int) -> None:
    """A webhook receiver that checks nothing and answers 200 (the sandbox is measured)."""
    from aiohttp import web

    async def receive(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/webhook", receive)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _wait_until_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def _payload(to: str) -> bytes:
    components = [
        {"type": "header", "parameters": [
            {"type": "image", "image": {"link": "https://tokomaju.example/promo.jpg"}}]},
        {"type": "body", "parameters": [
            {"type": "text", "text": "Budi"}, {"type": "text", "text": "50%"},
            {"type": "text", "text": "31 Desember"}]},
        {"type": "button", "sub_type": "url", "index": "1",
         "parameters": [{"type": "text", "text": "akhir-tahun"}]},
    ]  # fmt: skip
    return json.dumps(
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": {
                "name": "promo_akhir_tahun",
                "language": {"code": "id"},
                "components": components,
            },
            "biz_opaque_callback_data": f"bench:{to}",
        }
    ).encode()


async def _run(base_url: str, in_flight: int, seconds: float, warmup: float) -> dict[str, Any]:
    url = f"{base_url}/v25.0/{PHONE_NUMBER_ID}/messages"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    started = time.monotonic()
    measure_from = started + warmup
    deadline = measure_from + seconds
    accepted = limited = other = 0
    latencies: list[float] = []

    async def worker(number: int, session: aiohttp.ClientSession) -> None:
        nonlocal accepted, limited, other
        sequence = 0
        while time.monotonic() < deadline:
            sequence += 1
            to = f"6281{number:04d}{sequence:06d}7"  # distinct recipients, none "not on WhatsApp"
            sent_at = time.monotonic()
            async with session.post(url, data=_payload(to), headers=headers) as response:
                await response.read()
                status = response.status
            done = time.monotonic()
            if done < measure_from or sent_at > deadline:
                continue
            latencies.append(done - sent_at)
            if status == 200:
                accepted += 1
            elif status == 429:
                limited += 1
            else:
                other += 1

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(n, session) for n in range(in_flight)))
    latencies.sort()
    return {
        "accepted_per_s": accepted / seconds,
        "accepted": accepted,
        "throughput_limited": limited,
        "other_errors": other,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0,
    }


async def _sandbox_stats(base_url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/_sandbox/throughput") as response:
            throughput = await response.json()
        async with session.get(f"{base_url}/_sandbox/webhooks") as response:
            webhooks = await response.json()
    return {"throughput": throughput, "webhooks": webhooks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=["capacity", "limited"], default="capacity")
    parser.add_argument("--in-flight", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--webhooks", action="store_true")
    args = parser.parse_args()

    limit = 100_000 if args.scenario == "capacity" else 1000
    processes = []
    webhook_url = None
    if args.webhooks:
        receiver_port = _free_port()
        processes.append(multiprocessing.Process(target=_serve_receiver, args=(receiver_port,)))
        webhook_url = f"http://127.0.0.1:{receiver_port}/webhook"
    port = _free_port()
    processes.append(
        multiprocessing.Process(target=_serve_sandbox, args=(port, limit, webhook_url))
    )
    for process in processes:
        process.start()
    try:
        _wait_until_listening(port)
        base_url = f"http://127.0.0.1:{port}"
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        result = runner(_run(base_url, args.in_flight, args.seconds, args.warmup))
        if args.webhooks:
            time.sleep(3)  # let the last statuses go out
        stats = asyncio.run(_sandbox_stats(base_url))
    finally:
        for process in processes:
            process.terminate()
            process.join()
    histogram = stats["throughput"]
    webhooks = stats["webhooks"]
    print(f"scenario={args.scenario} limit={limit}/s in_flight={args.in_flight} "
          f"latency={LATENCY_MS:.0f}±{JITTER_MS:.0f} ms seconds={args.seconds}")  # fmt: skip
    print(
        f"accepted/s={result['accepted_per_s']:.0f} accepted={result['accepted']} "
        f"130429={result['throughput_limited']} other_errors={result['other_errors']} "
        f"p50={result['p50_ms']:.0f} ms p99={result['p99_ms']:.0f} ms"
    )
    print(f"sandbox histogram: max accepted in one second={histogram['max_per_second']}")
    if args.webhooks:
        print(
            f"webhooks: delivered_posts={webhooks['delivered_posts']} "
            f"delivered_events={webhooks['delivered_events']} "
            f"failed_attempts={webhooks['failed_attempts']} pending={webhooks['pending']}"
        )


if __name__ == "__main__":
    main()
