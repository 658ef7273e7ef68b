"""Webhook ingest: signed status updates per second through ``POST /webhook``, end to end.

The HTTP server (``webhook.server``, uvicorn with uvloop and httptools, one process as
``siaran serve-api`` runs it) receives signed Meta-shaped bodies from a client in this
process (aiohttp on uvloop, ``--in-flight`` concurrent POSTs) for ``--seconds``. Every update
is a real status of a real campaign message (``delivered``, then ``read``, for distinct
messages), so every one changes a row and the campaign's counters.

Measured:
- accepted updates/s: updates in POSTs answered 200 (stored) per second of the window;
- processed updates/s: all updates sent, divided by the time from the first POST until the
  last one was applied (the backlog drained): the sustained rate;
- p50/p99 of the POSTs' response times;
- status-to-counter delay: every 200 ms a probe POSTs one ``delivered`` of another campaign
  and polls that campaign's ``delivered_count`` until it moves (under the full load);
- correctness: the campaigns' counters equal the recount from the messages at the end.

- the server process's CPU time per POST (from ``/proc``), which says what one core can take
  whatever else runs on the machine.

Modes: ``batched`` (``--batch`` updates per POST, as Meta sends under load) and ``single``
(one update per POST). ``--rate`` is the offered load in updates/s, POSTed on a fixed
schedule whatever the answers do (open loop, default 3,000); ``--rate 0`` posts as fast as
the server answers with ``--in-flight`` POSTs at once (the capacity). Each engine gets a
fresh database (a temporary SQLite file; the PostgreSQL database ``siaran_bench_webhooks``,
dropped afterwards).

    .venv/bin/python bench/bench_webhook_ingest.py --engine both --mode both --rate 3000
    .venv/bin/python bench/bench_webhook_ingest.py --engine both --mode batched --rate 0 \
        --in-flight 8 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

PG_SERVER = os.environ.get(
    "SIARAN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_NAME = "siaran_bench_webhooks"
APP_SECRET = "bench-app-secret-0123"
WABA = "419561257915477"
PHONE_ID = "106540352242922"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the database ------------------------------------------------------------------------


def _fresh_database(engine_name: str, workdir: Path) -> str:
    from sqlalchemy import text

    from core.db import make_engine
    from sql.migrate import upgrade

    if engine_name == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        server = make_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{PG_NAME}"'))
        server.dispose()
        url = PG_SERVER.rsplit("/", 1)[0] + "/" + PG_NAME
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _drop_database(engine_name: str) -> None:
    if engine_name != "postgresql":
        return
    from sqlalchemy import text

    from core.db import make_engine

    server = make_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
    server.dispose()


def _seed(url: str, key: str, messages: int) -> dict[str, Any]:
    """An account, a campaign of ``messages`` sent messages, and a probe campaign."""
    from sqlalchemy import insert

    from core.db import make_engine
    from core.security import SecretBox
    from sql.schema import Campaign, CampaignMessage, WhatsAppAccount
    from sql.types import utcnow

    engine = make_engine(url)
    box = SecretBox(key.encode())
    now = utcnow()
    main_id, probe_id = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            insert(WhatsAppAccount.__table__).values(
                id=uuid.uuid4(),
                name="Bench",
                waba_id=WABA,
                phone_number_id=PHONE_ID,
                api_base_url="http://127.0.0.1:9",
                api_version="v25.0",
                access_token_encrypted=box.encrypt("x"),
                app_secret_encrypted=box.encrypt(APP_SECRET),
                verify_token_encrypted=box.encrypt("bench-verify"),
                is_sandbox=True,
                is_active=True,
                throughput_per_second=80,
                connected_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        for campaign_id, name, count in ((main_id, "Bench", messages), (probe_id, "Probe", 2000)):
            conn.execute(
                insert(Campaign.__table__).values(
                    id=campaign_id,
                    name=name,
                    status="running",
                    message_type="text",
                    message_content={},
                    template_variables={},
                    timezone="Asia/Jakarta",
                    rate_limit=20,
                    total_recipients=count,
                    sent_count=count,
                    created_at=now,
                    updated_at=now,
                    **{
                        c: 0
                        for c in (
                            "excluded_opted_out",
                            "excluded_cooldown",
                            "excluded_invalid_phone",
                            "excluded_duplicate_phone",
                            "excluded_missing_variable",
                            "excluded_invalid_content",
                            "delivered_count",
                            "read_count",
                            "failed_count",
                            "replied_count",
                            "opted_out_count",
                        )
                    },
                )
            )
            prefix = "M" if campaign_id == main_id else "P"
            rows = [
                {
                    "id": uuid.uuid4(),
                    "campaign_id": campaign_id,
                    "contact_id": None,
                    "phone": f"+6281{i:09d}" if prefix == "M" else f"+6285{i:09d}",
                    "status": "sent",
                    "rendered_content": {},
                    "wamid": f"wamid.{prefix}{i:09d}",
                    "attempts": 1,
                    "sent_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(count)
            ]
            for start in range(0, len(rows), 5000):
                conn.execute(insert(CampaignMessage.__table__), rows[start : start + 5000])
    engine.dispose()
    return {"main": main_id, "probe": probe_id}


# --- the server --------------------------------------------------------------------------


def _serve(url: str, key: str, port: int) -> None:
    os.environ.update({"DATABASE_URL": url, "SIARAN_SECRET_KEY": key, "SIARAN_ENV": "development"})
    import uvicorn

    from core.bootstrap import bootstrap
    from webhook.server import create_app

    uvicorn.run(
        create_app(bootstrap()),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_for(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


# --- the client --------------------------------------------------------------------------


def _body(updates: list[tuple[str, str, int]]) -> bytes:
    statuses = [
        {
            "id": wamid,
            "status": state,
            "timestamp": str(at),
            "recipient_id": "6281234567890",
            "pricing": {
                "billable": True,
                "pricing_model": "PMP",
                "category": "marketing",
                "type": "regular",
            },
        }
        for wamid, state, at in updates
    ]
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "6281100000000",
                                "phone_number_id": PHONE_ID,
                            },
                            "statuses": statuses,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _sign(raw: bytes) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()


class CounterWatch:
    """Reads a campaign's delivered_count from its own connection (in a thread)."""

    def __init__(self, url: str, campaign_id: uuid.UUID) -> None:
        from core.db import make_engine

        self.engine = make_engine(url, pool_size=1) if "postgresql" in url else make_engine(url)
        self.campaign_id = campaign_id

    def delivered(self) -> int:
        from sqlalchemy import select

        from sql.schema import Campaign

        with self.engine.connect() as conn:
            return int(
                conn.scalar(select(Campaign.delivered_count).where(Campaign.id == self.campaign_id))
                or 0
            )


async def _load(
    port: int,
    url: str,
    ids: dict[str, Any],
    mode: str,
    seconds: float,
    in_flight: int,
    batch: int,
    messages: int,
    rate: float,
) -> dict[str, Any]:
    per_post = batch if mode == "batched" else 1
    plan = [(f"wamid.M{i:09d}", "delivered") for i in range(messages)]
    plan += [(f"wamid.M{i:09d}", "read") for i in range(messages)]
    position = 0
    latencies: list[float] = []
    accepted_updates = errors = 0
    base_ts = int(time.time())
    endpoint = f"http://127.0.0.1:{port}/webhook"
    started = time.monotonic()
    deadline = started + seconds
    last_answer = started

    async def post_next(session: aiohttp.ClientSession) -> None:
        nonlocal position, accepted_updates, errors, last_answer
        chunk = plan[position : position + per_post]
        position += len(chunk)
        raw = _body([(w, s, base_ts + (1 if s == "read" else 0)) for w, s in chunk])
        sent_at = time.monotonic()
        async with session.post(
            endpoint,
            data=raw,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": _sign(raw)},
        ) as answer:
            await answer.read()
            status = answer.status
        answered = time.monotonic()
        latencies.append(answered - sent_at)
        if status == 200:
            accepted_updates += len(chunk)
            last_answer = max(last_answer, answered)
        else:
            errors += 1

    async def worker(session: aiohttp.ClientSession) -> None:
        """Closed loop: as fast as the server answers (``rate`` 0)."""
        while time.monotonic() < deadline and position < len(plan):
            await post_next(session)

    async def paced(session: aiohttp.ClientSession) -> None:
        """Open loop: a POST every ``per_post / rate`` seconds, whatever the answers do."""
        interval = per_post / rate
        slots = asyncio.Semaphore(in_flight)
        tasks = set()
        number = 0

        async def one() -> None:
            try:
                await post_next(session)
            finally:
                slots.release()

        while position < len(plan):
            due = started + number * interval
            if due >= deadline:
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            number += 1
        await asyncio.gather(*tasks)

    watch = CounterWatch(url, ids["probe"])
    probe_delays: list[float] = []

    async def probe(session: aiohttp.ClientSession) -> None:
        number = 0
        loop = asyncio.get_running_loop()
        while time.monotonic() < deadline:
            before = await loop.run_in_executor(None, watch.delivered)
            raw = _body([(f"wamid.P{number:09d}", "delivered", base_ts)])
            number += 1
            posted = time.monotonic()
            async with session.post(
                endpoint, data=raw, headers={"X-Hub-Signature-256": _sign(raw)}
            ) as answer:
                await answer.read()
            while await loop.run_in_executor(None, watch.delivered) <= before:
                if time.monotonic() - posted > 30:
                    break
                await asyncio.sleep(0.005)
            probe_delays.append(time.monotonic() - posted)
            await asyncio.sleep(0.2)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        if rate:
            await asyncio.gather(probe(session), paced(session))
        else:
            await asyncio.gather(probe(session), *(worker(session) for _ in range(in_flight)))
    drained = await asyncio.get_running_loop().run_in_executor(None, _wait_drained, url)
    watch.engine.dispose()
    latencies.sort()
    return {
        "mode": mode,
        "offered_per_s": rate or "max",
        "updates_per_post": per_post,
        "posts": len(latencies),
        "errors": errors,
        "accepted_updates": accepted_updates,
        "accepted_per_s": accepted_updates / (last_answer - started),
        "processed_per_s": accepted_updates / (drained - started),
        "drain_after_last_post_s": drained - last_answer,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "probe_count": len(probe_delays),
        "probe_p50_s": statistics.median(probe_delays) if probe_delays else None,
        "probe_max_s": max(probe_delays) if probe_delays else None,
    }


def _wait_drained(url: str) -> float:
    """When no stored event is left unprocessed (monotonic time)."""
    from sqlalchemy import func, select

    from core.db import make_engine
    from sql.schema import WebhookEvent

    engine = make_engine(url)
    try:
        while True:
            with engine.connect() as conn:
                left = conn.scalar(
                    select(func.count())
                    .select_from(WebhookEvent)
                    .where(WebhookEvent.state != "processed")
                )
            if not left:
                return time.monotonic()
            time.sleep(0.01)
    finally:
        engine.dispose()


def _check(url: str, ids: dict[str, Any]) -> dict[str, Any]:
    from core.campaign_counters import stored, truth
    from core.db import UnitOfWork, make_engine

    engine = make_engine(url)
    try:
        with UnitOfWork(engine).session() as session:
            result = {}
            for name, campaign_id in ids.items():
                kept, recount = stored(session, campaign_id), truth(session, campaign_id)
                result[name] = {"equal": kept == recount, **recount.as_dict()}
            return result
    finally:
        engine.dispose()


def run(engine_name: str, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    with tempfile.TemporaryDirectory() as workdir:
        url = _fresh_database(engine_name, Path(workdir))
        try:
            ids = _seed(url, key, args.messages)
            port = _free_port()
            server = multiprocessing.get_context("spawn").Process(
                target=_serve, args=(url, key, port)
            )
            server.start()
            try:
                _wait_for(port)
                import uvloop

                cpu_before = _cpu_seconds(server.pid)
                load = os.getloadavg()[0]
                result = uvloop.run(
                    _load(
                        port,
                        url,
                        ids,
                        mode,
                        args.seconds,
                        args.in_flight,
                        args.batch,
                        args.messages,
                        args.rate,
                    )
                )
                result["server_cpu_us_per_post"] = (
                    (_cpu_seconds(server.pid) - cpu_before) / result["posts"] * 1e6
                )
                result["load_average_at_start"] = load
            finally:
                server.terminate()
                server.join(30)
            result["counters"] = _check(url, ids)
            result["engine"] = engine_name
            return result
        finally:
            _drop_database(engine_name)


def _summary(r: dict[str, Any]) -> str:
    counters = all(c["equal"] for c in r["counters"].values())
    offered = r["offered_per_s"]
    offered = offered if isinstance(offered, str) else f"{offered:,.0f}"
    return (
        f"| {r['engine']} | {r['mode']} ({r['updates_per_post']}/POST) | {offered} | "
        f"{r['accepted_per_s']:,.0f} | {r['processed_per_s']:,.0f} | {r['p50_ms']:.1f} / "
        f"{r['p99_ms']:.1f} ms | {r['probe_p50_s']:.2f} / {r['probe_max_s']:.2f} s | "
        f"{r['server_cpu_us_per_post']:,.0f} µs | {'equal' if counters else 'DIFFER'} | "
        f"{r['load_average_at_start']:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--mode", choices=["batched", "single", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--in-flight", type=int, default=256, help="most POSTs at once")
    parser.add_argument("--batch", type=int, default=100, help="updates per POST when batched")
    parser.add_argument("--messages", type=int, default=150_000)
    parser.add_argument(
        "--rate",
        type=float,
        default=3000,
        help="offered updates per second (0: as fast as the server answers)",
    )
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    modes = ["batched", "single"] if args.mode == "both" else [args.mode]
    for engine_name in engines:
        for mode in modes:
            result = run(engine_name, mode, args)
            print(json.dumps(result, default=str), flush=True)
            print(_summary(result), flush=True)


if __name__ == "__main__":
    main()
