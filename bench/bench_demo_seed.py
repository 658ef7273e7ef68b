"""Demo data generator: seeding 1,000,000 contacts into a fresh SQLite file and PostgreSQL.

Each engine runs in its own child process so its peak RSS is its own. For each it creates
a fresh migrated database (PostgreSQL: ``siaran_bench_seed`` on the server at
``SIARAN_TEST_PG_URL``, default the local server, dropped afterwards), seeds it through
``sql.demo_data.seed_demo`` with a fixed seed and "now", and reports wall time, rows
written per second (contacts + contact labels + conversations) and peak RSS.

    .venv/bin/python bench/bench_demo_seed.py --contacts 1000000 --engine both

Target: under 3 minutes per engine for 1,000,000 contacts, with bounded memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from core.db import make_engine
from sql.demo_data import seed_demo
from sql.migrate import upgrade

PG_URL = os.environ.get(
    "SIARAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_DATABASE = "siaran_bench_seed"
NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
SEED = 17081945


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_one(engine_name: str, contacts: int) -> dict[str, object]:
    """Seed a fresh database of one engine; returns the measurements."""
    server = None
    with tempfile.TemporaryDirectory(prefix="siaran-bench-seed-") as folder:
        if engine_name == "sqlite":
            url = f"sqlite:///{Path(folder) / 'seed.db'}"
        else:
            server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with server.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
            url = PG_URL.rsplit("/", 1)[0] + "/" + PG_DATABASE
        engine = make_engine(url)
        try:
            upgrade(engine)
            rss_before = _peak_rss_mib()
            started = time.perf_counter()
            report = seed_demo(engine, contacts=contacts, seed=SEED, now=NOW)
            seconds = time.perf_counter() - started
            size = _database_size(engine, url)
        finally:
            engine.dispose()
            if server is not None:
                with server.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
                server.dispose()
    rows = report.contacts + report.contact_labels + report.conversations
    return {
        "engine": engine_name,
        "contacts": report.contacts,
        "contact_labels": report.contact_labels,
        "conversations": report.conversations,
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds),
        "contacts_per_second": round(report.contacts / seconds),
        "peak_rss_mib": round(_peak_rss_mib()),
        "rss_before_seed_mib": round(rss_before),
        "database_mib": round(size / 2**20),
    }


def _database_size(engine: object, url: str) -> int:
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.scalar(text("SELECT pg_database_size(current_database())")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.engine, args.contacts)))
        return
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    results = []
    for name in engines:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--engine",
                name,
                "--contacts",
                str(args.contacts),
            ],
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    print()
    print("| engine | contacts | contact labels | conversations | wall time | rows/s | peak RSS |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['engine']} | {r['contacts']:,} | {r['contact_labels']:,} | "
            f"{r['conversations']:,} | {r['seconds']} s | {r['rows_per_second']:,} | "
            f"{r['peak_rss_mib']} MiB |"
        )


if __name__ == "__main__":
    main()
