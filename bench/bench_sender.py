"""The sender against the sandbox: achieved rate, rate accuracy, statuses, crash safety.

A fresh, migrated database (SQLite file or a scratch PostgreSQL database) gets an account
pointing at the WhatsApp sandbox, which runs in its own process with 150 ms ± 30 ms latency
and its throughput cap raised above the rate (``--sandbox-cap``, default twice the rate),
and one running campaign whose outbox rows (text messages, one contact each) are inserted
in bulk, as ``launch_campaign`` would leave them.

``--scenario rate`` drives the campaign with ``sender.run.run_campaign`` in this process and
measures at the sandbox: the achieved rate (accepted messages over the span from the first
to the last acceptance), the most acceptances in one wall-clock second (the sandbox's
histogram) and in any sliding one-second span, refusals (130429); and, in the sender, the
most requests written in any sliding second. Then it checks that every message is ``sent``
in the database, once, with its wamid.

``--scenario kill`` runs the sender as operators do (``siaran send --campaign``, here
``python -m cli.send``) in a subprocess, SIGKILLs it ``--kills`` times at random moments,
restarts it, and lets the last one finish. The sandbox's status webhooks go to a receiver
process that records the messages they prove were accepted
(``sender.outbox.confirm_sent``), the reconciliation path. At the end the sandbox must hold
every message exactly once.

    .venv/bin/python bench/bench_sender.py --scenario rate --messages 100000 --rate 1000
    .venv/bin/python bench/bench_sender.py --scenario rate --messages 1000 --rate 20
    .venv/bin/python bench/bench_sender.py --scenario kill --messages 100000 --rate 1000 --kills 10

``--engine postgresql`` uses the local server (``SIARAN_TEST_PG_URL``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select, text

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get(
    "SIARAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_DATABASE = "siaran_bench_sender"
TOKEN = "bench-token"
SECRET = "bench-app-secret"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "419561257915477"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def _serve_sandbox(port: int, cap: int, latency: float, jitter: float, hook: str | None) -> None:
    import gc

    from sandbox.config import SandboxConfig
    from sandbox.server import serve

    # The sandbox keeps every accepted message (the checks read them all back); with 100,000
    # of them its full garbage collections stop it for a few hundred milliseconds, and the
    # requests that queue meanwhile are stamped together: a bunched histogram that measures
    # the sandbox, not the sender. Reference counting frees everything else; a short-lived
    # benchmark process can do without the cycle collector.
    gc.disable()

    config = SandboxConfig.model_validate(
        {
            "access_token": TOKEN, "app_secret": SECRET, "phone_number_id": PHONE_NUMBER_ID,
            "waba_id": WABA_ID, "latency_ms": latency, "latency_jitter_ms": jitter,
            "throughput_per_second": cap, "enforce_service_window": False,
            "outcomes": {"delivered": 1, "read": 0, "replied": 0, "failed": 0},
            "timing": {"sent_after_ms": 200, "delivered_after_ms": 600, "read_after_ms": 900,
                       "replied_after_ms": 1200},
            "webhooks": {"url": hook, "batch_rate": 1.0, "batch_max": 200, "concurrency": 4},
            "max_recorded_messages": 1_000_000,
        }
    )  # fmt: skip
    serve(config, "127.0.0.1", port, announce=lambda _: None)


def _serve_confirmer(port: int, database_url: str, secret_key: str) -> None:
    """The webhook receiver's reconciliation: status webhooks prove a message was accepted."""
    import asyncio
    from datetime import UTC, datetime

    from aiohttp import web

    from core.bootstrap import bootstrap
    from core.settings import Settings
    from sender.outbox import confirm_sent
    from sql.types import utcnow

    app_state = bootstrap(Settings(database_url=database_url, secret_key=secret_key))

    def confirm(proofs: list[tuple[uuid.UUID, str, datetime]]) -> None:
        with app_state.uow.begin() as session:
            confirm_sent(session, proofs, now=utcnow())

    async def receive(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        proofs = [
            (uuid.UUID(s["biz_opaque_callback_data"]), s["id"],
             datetime.fromtimestamp(int(s["timestamp"]), UTC))
            for entry in body.get("entry", [])
            for change in entry.get("changes", [])
            for s in change.get("value", {}).get("statuses", [])
            if s.get("status") == "sent" and s.get("biz_opaque_callback_data")
        ]  # fmt: skip
        if proofs:
            await asyncio.to_thread(confirm, proofs)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/webhook", receive)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _database(engine_kind: str, workdir: Path) -> str:
    from core.db import make_engine
    from sql.migrate import upgrade

    if engine_kind == "sqlite":
        url = f"sqlite:///{workdir / 'sender.db'}"
    else:
        server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
        server.dispose()
        url = PG_URL.rsplit("/", 1)[0] + "/" + PG_DATABASE
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _drop_database(engine_kind: str) -> None:
    if engine_kind != "sqlite":
        from core.db import make_engine

        server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        server.dispose()


def _fill(app: Any, sandbox_url: str, messages: int, rate: int) -> uuid.UUID:
    """An account on the sandbox and a running campaign with ``messages`` pending rows."""
    from sql.schema import Campaign, CampaignMessage, Contact, WhatsAppAccount
    from sql.types import utcnow

    now = utcnow()
    with app.uow.begin() as session:
        account = WhatsAppAccount(
            name="Bench", waba_id=WABA_ID, phone_number_id=PHONE_NUMBER_ID,
            throughput_per_second=rate, api_base_url=sandbox_url, api_version="v25.0",
            access_token_encrypted=app.secrets.encrypt(TOKEN),
            app_secret_encrypted=app.secrets.encrypt(SECRET),
            verify_token_encrypted=app.secrets.encrypt("bench-verify"),
            is_sandbox=True, is_active=True,
        )  # fmt: skip
        session.add(account)
        session.flush()
        campaign = Campaign(
            name=f"Bench {messages:,} at {rate}/s", status="running",
            whatsapp_account_id=account.id, rate_limit=rate, total_recipients=messages,
            message_content={"body": "Halo, ada promo!"}, started_at=now,
        )  # fmt: skip
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id
    chunk = 5_000
    for start in range(0, messages, chunk):
        contacts, rows = [], []
        for index in range(start, min(messages, start + chunk)):
            contact_id, message_id = uuid.uuid4(), uuid.uuid4()
            phone = f"+6281{index:08d}7"
            contacts.append(
                {"id": contact_id, "name": f"Pelanggan {index}", "phone": phone,
                 "custom_fields": {}, "created_at": now, "updated_at": now}
            )  # fmt: skip
            rows.append(
                {
                    "id": message_id, "campaign_id": campaign_id, "contact_id": contact_id,
                    "phone": phone, "status": "pending", "attempts": 0, "next_attempt_at": now,
                    "created_at": now, "updated_at": now,
                    "rendered_content": {
                        "messaging_product": "whatsapp", "recipient_type": "individual",
                        "to": phone[1:], "type": "text",
                        "text": {"body": f"Halo Pelanggan {index}, ada promo akhir tahun!",
                                 "preview_url": False},
                        "biz_opaque_callback_data": str(message_id),
                    },
                }
            )  # fmt: skip
        with app.uow.begin() as session:
            session.execute(insert(Contact), contacts)
            session.execute(insert(CampaignMessage), rows)
    return campaign_id


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU a process has used so far (Linux ``/proc``)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _accepted(sandbox_url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with httpx.Client(base_url=sandbox_url, timeout=60) as client:
        while True:
            page = client.get(
                "/_sandbox/messages", params={"after_seq": len(found), "limit": 10_000}
            ).json()["data"]
            if not page:
                return found
            found += page


def _most_in_one_second(times: list[float]) -> int:
    best, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def _check(app: Any, campaign_id: uuid.UUID, sandbox_url: str, rate: int) -> dict[str, Any]:
    from sql.schema import Campaign, CampaignMessage

    accepted = _accepted(sandbox_url)
    throughput = httpx.get(f"{sandbox_url}/_sandbox/throughput", timeout=30).json()
    times = sorted(m["accepted_at"] for m in accepted)
    copies = Counter(m["biz_opaque_callback_data"] for m in accepted)
    with app.uow.session() as session:
        statuses = dict(
            session.execute(
                select(CampaignMessage.status, func.count())
                .where(CampaignMessage.campaign_id == campaign_id)
                .group_by(CampaignMessage.status)
            ).all()
        )
        ids = set(
            str(i)
            for i in session.scalars(
                select(CampaignMessage.id).where(CampaignMessage.campaign_id == campaign_id)
            )
        )
        with_wamid = session.scalar(
            select(func.count()).where(
                CampaignMessage.campaign_id == campaign_id, CampaignMessage.wamid.is_not(None)
            )
        )
        with_sent_at = session.scalar(
            select(func.count()).where(
                CampaignMessage.campaign_id == campaign_id, CampaignMessage.sent_at.is_not(None)
            )
        )
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign_status, sent_count = campaign.status, campaign.sent_count
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    achieved = (len(times) - 1) / span if span else 0.0
    return {
        "accepted": len(accepted),
        "achieved_per_s": round(achieved, 1),
        "achieved_over_configured": round(achieved / rate, 4),
        "span_s": round(span, 2),
        "max_per_wall_second": max(row["count"] for row in throughput["per_second"]),
        "max_in_sliding_second": _most_in_one_second(times),
        "throughput_limited_130429": throughput["throughput_limited"],
        "lost": len(ids - set(copies)),
        "sent_twice": sum(1 for n in copies.values() if n > 1),
        "statuses": statuses,
        "with_wamid": with_wamid,
        "with_sent_at": with_sent_at,
        "sent_count": sent_count,
        "campaign_status": campaign_status,
    }


def _trace_writes() -> list[float]:
    """Wall times at which the sender's requests left (aiohttp's headers-sent trace hook).

    The sandbox stamps a message when its event loop gets to it; on a busy machine that can
    be tens of milliseconds after the request arrived, which bunches its timestamps. The
    moments our requests were written show the sender's own pacing without that noise.
    """
    import aiohttp

    written: list[float] = []

    async def sent(_session: Any, _context: Any, _params: Any) -> None:
        written.append(time.time())

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(sent)
    original = aiohttp.ClientSession.__init__

    def init(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("trace_configs", [trace])
        original(self, *args, **kwargs)

    aiohttp.ClientSession.__init__ = init  # type: ignore[method-assign]
    return written


def _run_in_process(app: Any, campaign_id: uuid.UUID) -> dict[str, Any]:
    from sender.run import run_campaign

    written = _trace_writes()

    last = [0.0]

    def show(progress: Any) -> None:
        if time.monotonic() - last[0] >= 10:
            last[0] = time.monotonic()
            print("  ", progress.describe(), flush=True)

    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    report = run_campaign(app, campaign_id, on_progress=show)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "run_status": report.status,
        "wall_s": round(wall, 1),
        "sender_cpu_s": round(cpu, 1),
        "max_written_in_sliding_second": _most_in_one_second(sorted(written)),
    }


def _run_with_kills(
    campaign_id: uuid.UUID, env: dict[str, str], sandbox_url: str, messages: int, kills: int
) -> dict[str, Any]:
    rng = random.Random(5)
    command = [sys.executable, "-m", "cli.send", "--campaign", str(campaign_id), "--every", "10"]
    # Kill points spread over the campaign (by messages the sandbox accepted).
    points = sorted(rng.uniform(0.05, 0.9) * messages for _ in range(kills))
    started = time.monotonic()
    for number, point in enumerate(points, 1):
        sender = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        # Each sender runs until the kill point, and at least until it has sent 200.
        start = httpx.get(f"{sandbox_url}/_sandbox/throughput").json()["accepted"]
        point = max(point, start + 200)
        while True:
            accepted = httpx.get(f"{sandbox_url}/_sandbox/throughput").json()["accepted"]
            if accepted >= point or sender.poll() is not None:
                break
            time.sleep(0.05)
        sender.send_signal(signal.SIGKILL)
        sender.wait()
        print(f"   kill {number}: after {accepted:,} accepted", flush=True)
    sender = subprocess.Popen(command, cwd=ROOT, env=env)
    sender.wait()
    return {
        "kills": kills,
        "final_exit_code": sender.returncode,
        "wall_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=["rate", "kill"], default="rate")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--jitter-ms", type=float, default=30.0)
    parser.add_argument("--sandbox-cap", type=int, default=None)
    args = parser.parse_args()

    from core.bootstrap import bootstrap
    from core.settings import Settings

    secret_key = Fernet.generate_key().decode()
    cap = args.sandbox_cap or args.rate * 2
    with tempfile.TemporaryDirectory(prefix="bench-sender-") as workdir:
        database_url = _database(args.engine, Path(workdir))
        processes = []
        hook = None
        if args.scenario == "kill":
            hook_port = _free_port()
            processes.append(
                multiprocessing.Process(
                    target=_serve_confirmer, args=(hook_port, database_url, secret_key)
                )
            )
            hook = f"http://127.0.0.1:{hook_port}/webhook"
        port = _free_port()
        processes.append(
            multiprocessing.Process(
                target=_serve_sandbox, args=(port, cap, args.latency_ms, args.jitter_ms, hook)
            )
        )
        for process in processes:
            process.start()
        try:
            _wait_until_listening(port)
            sandbox_url = f"http://127.0.0.1:{port}"
            settings = Settings(
                database_url=database_url, secret_key=secret_key, data_dir=Path(workdir)
            )
            app = bootstrap(settings)
            filled = time.monotonic()
            campaign_id = _fill(app, sandbox_url, args.messages, args.rate)
            print(f"{args.messages:,} outbox rows inserted in {time.monotonic() - filled:.1f} s")
            print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
            sandbox_pid = processes[-1].pid
            sandbox_cpu = _cpu_seconds(sandbox_pid)
            if args.scenario == "rate":
                run = _run_in_process(app, campaign_id)
            else:
                env = {
                    **os.environ,
                    "DATABASE_URL": database_url,
                    "SIARAN_SECRET_KEY": secret_key,
                    "SIARAN_DATA_DIR": workdir,
                    "SIARAN_SENDER_RECONCILE_GRACE_SECONDS": "15",
                    "SIARAN_SENDER_HEARTBEAT_SECONDS": "1",
                    "SIARAN_SENDER_WORKER_TIMEOUT_SECONDS": "10",
                }
                run = _run_with_kills(campaign_id, env, sandbox_url, args.messages, args.kills)
                time.sleep(2)  # the last webhooks
            print(f"load average after: {os.getloadavg()[0]:.2f}")
            run["sandbox_cpu_s"] = round(_cpu_seconds(sandbox_pid) - sandbox_cpu, 1)
            result = {
                "scenario": args.scenario,
                "engine": args.engine,
                "messages": args.messages,
                "configured_rate": args.rate,
                "sandbox_cap": cap,
                **run,
                **_check(app, campaign_id, sandbox_url, args.rate),
            }
            print(json.dumps(result, indent=2, default=str))
            app.engine.dispose()
        finally:
            for process in processes:
                process.terminate()
                process.join(10)
            _drop_database(args.engine)


if __name__ == "__main__":
    main()
