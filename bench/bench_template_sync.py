"""Template sync: 1,000+ templates over paginated responses into SQLite and PostgreSQL.

Runs the WhatsApp sandbox in its own process at its default latency (150 ms ± 30 ms per
request, like Meta's), generates 1,000 templates there (on top of its 20-template library),
connects it as the account of a fresh migrated database of each engine and times
``core.whatsapp.sync_templates`` (100 templates per page, commit included) three times:

1. into the empty database (every template created),
2. again (every template compared, nothing changed),
3. after 50 templates changed status and 20 were deleted in the sandbox.

Also times listing every page without touching a database, to show what latency costs.

    .venv/bin/python bench/bench_template_sync.py --engine both

PostgreSQL: a scratch database is created (and dropped) on the server at
``SIARAN_TEST_PG_URL`` (default the local server).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import text

from core.bootstrap import Siaran
from core.db import make_engine
from core.permissions import SYSTEM_ACTOR
from core.sandbox_account import sandbox_credentials
from core.settings import Settings
from core.whatsapp import connect_account, sync_templates
from sender.cloud_api import CloudApiClient
from sql.migrate import upgrade

PG_URL = os.environ.get(
    "SIARAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TARGET_S = 5.0


def _serve_sandbox(port: int) -> None:
    from sandbox.config import SandboxConfig
    from sandbox.server import serve

    serve(SandboxConfig(), "127.0.0.1", port, announce=lambda _: None)


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
    raise RuntimeError("the sandbox did not start")


async def _list_only(url: str) -> tuple[int, float]:
    credentials = sandbox_credentials(url)
    client = CloudApiClient(
        url, credentials.access_token, credentials.phone_number_id, credentials.waba_id
    )
    started = time.perf_counter()
    async with client:
        count = len([t async for t in client.list_templates(limit=100)])
    return count, time.perf_counter() - started


def _change_remote(control: httpx.Client) -> None:
    """50 generated templates change status, 20 others disappear."""
    generated = [
        t for t in control.get("/templates").json()["data"] if t["name"].startswith("bench")
    ]
    for template in generated[:50]:
        control.post(f"/templates/{template['id']}/status", json={"status": "PAUSED"})
    for template in generated[50:70]:
        control.delete(f"/templates/{template['id']}").raise_for_status()


def run_engine(name: str, url: str, sandbox_url: str, control: httpx.Client, data: Path) -> None:
    engine = make_engine(url)
    upgrade(engine)
    siaran = Siaran(Settings(env="test", data_dir=data, database_url=url), engine)
    with siaran.uow.begin() as session:
        connect_account(session, SYSTEM_ACTOR, siaran.secrets, sandbox_credentials(sandbox_url))
    for label, before in [
        ("into an empty database", None),
        ("again, nothing changed", None),
        ("50 changed, 20 removed", _change_remote),
    ]:
        if before is not None:
            before(control)
        started = time.perf_counter()
        with siaran.uow.begin() as session:
            report = sync_templates(session, SYSTEM_ACTOR, siaran.secrets)
        seconds = time.perf_counter() - started
        verdict = "met" if seconds < TARGET_S else "MISSED"
        print(
            f"| {name} | {label} | {report.fetched:,} | {report.created:,} / {report.updated:,} "
            f"/ {report.removed:,} | {seconds:.2f} s | {report.fetched / seconds:,.0f}/s | "
            f"{verdict} |",
            flush=True,
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--templates", type=int, default=1000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()

    port = _free_port()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve_sandbox, args=(port,), daemon=True
    )
    server.start()
    try:
        _wait_until_listening(port)
        sandbox_url = f"http://127.0.0.1:{port}"
        control = httpx.Client(base_url=f"{sandbox_url}/_sandbox", timeout=60)

        def fresh_sandbox() -> None:
            control.post("/reset").raise_for_status()
            control.post(
                "/templates/generate", json={"count": args.templates, "prefix": "bench"}
            ).raise_for_status()

        fresh_sandbox()
        count, seconds = asyncio.run(_list_only(sandbox_url))
        pages = -(-count // 100)
        print(f"listing only: {count:,} templates in {pages} pages, {seconds:.2f} s")
        print("| engine | sync | templates | created / updated / removed | time | rate | < 5 s |")
        print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
        with tempfile.TemporaryDirectory() as folder:
            data = Path(folder)
            if args.engine in ("sqlite", "both"):
                run_engine("SQLite", f"sqlite:///{folder}/bench.db", sandbox_url, control, data)
            if args.engine in ("postgresql", "both"):
                fresh_sandbox()
                _run_postgresql(sandbox_url, control, data)
    finally:
        server.terminate()
        server.join(5)


def _run_postgresql(sandbox_url: str, control: httpx.Client, data: Path) -> None:
    server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    database = f"siaran_bench_{uuid.uuid4().hex[:8]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        url = PG_URL.rsplit("/", 1)[0] + "/" + database
        run_engine("PostgreSQL", url, sandbox_url, control, data)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        server.dispose()


if __name__ == "__main__":
    main()
