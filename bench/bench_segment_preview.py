"""Segment preview at 1,000,000 demo contacts: p50/p95 of ``preview_criteria`` per engine.

Seeds the demo CRM (``sql.demo_data.seed_demo``, fixed seed and "now") into a fresh
database unless ``--keep`` finds one already seeded with as many contacts, opts 3% of the
contacts out, refreshes ``contact_features`` (timed), then previews a realistic segment
(latest status, date range, average rating, conversation count, city, has label A or B
and not label C) ``--runs`` times after a warm-up, each in its own session like a request.
A few other shapes of segment are timed too, for the record. ``--keep`` keeps the seeded
database (a file under the temp folder, or the PostgreSQL database ``siaran_bench_preview``)
and reuses it on the next run; without it the database is dropped at the end.

    .venv/bin/python bench/bench_segment_preview.py --engine sqlite
    .venv/bin/python bench/bench_segment_preview.py --engine postgresql

Target: p95 < 200 ms on each engine (DESIGN.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, text

from core.db import UnitOfWork, make_engine
from core.permissions import Actor, Role
from core.segments.features import refresh_contact_features
from core.segments.preview import Preview, preview_criteria
from sql.demo_data import seed_demo
from sql.migrate import upgrade
from sql.schema import Contact, ContactPreference

PG_URL = os.environ.get(
    "SIARAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_DATABASE = "siaran_bench_preview"
NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
SEED = 17081945
OWNER = Actor(id=None, email="bench@siaran.local", role=Role.OWNER, full_name="Bench")

REALISTIC: dict[str, Any] = {
    "type": "all",
    "conditions": [
        {"type": "status", "scope": "latest", "statuses": ["resolved", "closed"]},
        {"type": "last_interaction", "op": "between", "start": "2025-09-01", "end": "2026-02-28"},
        {"type": "rating", "measure": "average", "op": "gte", "value": 4},
        {"type": "conversation_count", "op": "gte", "value": 2},
        {"type": "custom_field", "field": "city", "op": "eq", "value": "Jakarta"},
        {"type": "labels", "match": "any", "labels": ["vip", "loyal"]},
        {"type": "labels", "match": "none", "labels": ["complaint"]},
    ],
}
OTHERS: dict[str, dict[str, Any]] = {
    "everyone": {"type": "all", "conditions": []},
    "city only (JSON on every row)": {
        "type": "all",
        "conditions": [{"type": "custom_field", "field": "city", "op": "eq", "value": "Jakarta"}],
    },
    "2+ conversations in 30 days (live window)": {
        "type": "all",
        "conditions": [
            {"type": "conversation_count", "op": "gte", "value": 2, "within_days": 30},
            {"type": "labels", "match": "any", "labels": ["vip"]},
        ],
    },
    "rare (a handful of members)": {
        "type": "all",
        "conditions": [
            {"type": "labels", "match": "all", "labels": ["wholesale", "complaint", "vip"]},
            {"type": "rating", "measure": "latest", "op": "lte", "value": 1},
        ],
    },
}


def _database(engine_name: str, folder: str, keep: bool) -> str:
    if engine_name == "sqlite":
        base = Path(folder) if not keep else Path(tempfile.gettempdir()) / "siaran-bench-preview"
        base.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{base / 'preview.db'}"
    server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": PG_DATABASE}
        )
        if exists and not keep:
            conn.execute(text(f'DROP DATABASE "{PG_DATABASE}" WITH (FORCE)'))
        if not exists or not keep:
            conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    server.dispose()
    return PG_URL.rsplit("/", 1)[0] + "/" + PG_DATABASE


def _seeded(engine: Engine, contacts: int) -> bool:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Contact)) == contacts


def _opt_out_some(engine: Engine, share: int = 33) -> int:
    """Opt out every ``share``-th contact (by id): about 3% of them."""
    with engine.begin() as conn:
        conn.execute(ContactPreference.__table__.delete())
        ids = conn.execute(select(Contact.id).order_by(Contact.id)).scalars().all()
        rows = [
            {"contact_id": cid, "opted_out": True, "opted_out_at": NOW, "updated_at": NOW}
            for cid in ids[::share]
        ]
        conn.execute(insert(ContactPreference.__table__), rows)
    return len(rows)


def _timed(runs: int, action: Callable[[], Preview]) -> tuple[list[float], list[float], Preview]:
    """Wall-clock and CPU milliseconds of ``runs`` calls after three warm-up calls.

    CPU time is this process's: on SQLite that is the query's own work, untouched by
    other programs competing for the cores; on PostgreSQL the server does the work.
    """
    result = action()
    for _ in range(2):
        action()  # warm caches and the statement cache
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = action()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu, result


def _summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    median = statistics.median(ordered)
    return f"p50 {median:6.1f} ms  p95 {p95:6.1f} ms  max {ordered[-1]:6.1f} ms"


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], required=True)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="reuse (and keep) the seeded database")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="siaran-bench-preview-") as folder:
        url = _database(args.engine, folder, args.keep)
        engine = make_engine(url)
        upgrade(engine)
        if not (args.keep and _seeded(engine, args.contacts)):
            started = time.perf_counter()
            report = seed_demo(engine, contacts=args.contacts, seed=SEED, now=NOW, reset=True)
            print(f"seeded: {report} ({time.perf_counter() - started:.0f} s)")
        opted_out = _opt_out_some(engine)
        started = time.perf_counter()
        written = refresh_contact_features(engine, now=NOW)
        refresh_seconds = time.perf_counter() - started
        print(f"{args.engine}: {written:,} feature rows refreshed in {refresh_seconds:.1f} s")
        started = time.perf_counter()
        rewritten = refresh_contact_features(engine, now=NOW)
        print(
            f"full refresh again, nothing changed: {time.perf_counter() - started:.1f} s "
            f"({rewritten:,} rows rewritten)"
        )
        print(f"{opted_out:,} contacts opted out")
        with engine.connect() as conn:
            changed = conn.execute(select(Contact.id).limit(1000)).scalars().all()
        started = time.perf_counter()
        refresh_contact_features(engine, changed, now=NOW)
        print(f"incremental refresh of 1,000 contacts: {time.perf_counter() - started:.2f} s")

        uow = UnitOfWork(engine)

        def preview(criteria: dict[str, Any]) -> Callable[[], Preview]:
            def run() -> Preview:
                with uow.session() as session:
                    return preview_criteria(session, OWNER, criteria, now=NOW)

            return run

        print(f"before the previews: {_load()}")
        wall, cpu, result = _timed(args.runs, preview(REALISTIC))
        print(
            f"realistic segment, {args.runs} previews (matching {result.matching:,}, "
            f"reachable {result.reachable:,}, opted out {result.opted_out:,}, sample "
            f"{len(result.sample)}, {len(result.by_label)} labels, "
            f"{len(result.by_status)} statuses):\n  wall {_summary(wall)}\n"
            f"  cpu  {_summary(cpu)}"
        )
        for name, criteria in OTHERS.items():
            wall, _, result = _timed(10, preview(criteria))
            print(f"  {name:45s} wall {_summary(wall)}  (matching {result.matching:,})")
        print(f"after the previews: {_load()}")
        engine.dispose()
        if args.engine == "postgresql" and not args.keep:
            _drop_postgres_database()


def _drop_postgres_database() -> None:
    server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
    server.dispose()


if __name__ == "__main__":
    main()
