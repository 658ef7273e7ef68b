"""The queries behind the app's Home and Contacts pages, timed at demo scale.

For each engine: a fresh migrated database (SQLite: a temporary file; PostgreSQL:
``siaran_bench_app`` on the server at ``SIARAN_TEST_PG_URL``, dropped afterwards), seeded
through ``sql.demo_data.seed_demo``, then each query of ``core.stats`` and
``core.contact_search`` run ``--repeat`` times; reports the median and the slowest run.

    .venv/bin/python bench/bench_app_queries.py --contacts 1000000 --engine both
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

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from core.contact_search import list_labels, search_contacts
from core.db import make_engine
from core.permissions import Actor, Role
from core.stats import dashboard_counts
from sql.demo_data import seed_demo
from sql.migrate import upgrade

PG_URL = os.environ.get(
    "SIARAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_DATABASE = "siaran_bench_app"
NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
OWNER = Actor(id=None, email="owner@bench", role=Role.OWNER)
SUPERVISOR = Actor(id=None, email="supervisor@bench", role=Role.SUPERVISOR)


def queries(session: Session) -> dict[str, Callable[[], object]]:
    labels = [label.name for label in list_labels(session, OWNER)]
    first, second = labels[0], labels[1]
    return {
        "home: dashboard_counts": lambda: dashboard_counts(session, SUPERVISOR),
        "contacts: list_labels": lambda: list_labels(session, SUPERVISOR),
        "contacts: first page (50)": lambda: search_contacts(session, SUPERVISOR),
        "contacts: page 2,000 (offset 99,950)": lambda: search_contacts(
            session, SUPERVISOR, offset=99_950
        ),
        "contacts: name contains 'siti'": lambda: search_contacts(
            session, SUPERVISOR, query="siti"
        ),
        "contacts: owner searches phone '0812'": lambda: search_contacts(
            session, OWNER, query="0812"
        ),
        f"contacts: label {first!r}": lambda: search_contacts(session, SUPERVISOR, labels=[first]),
        f"contacts: labels {first!r} and {second!r} (all)": lambda: search_contacts(
            session, SUPERVISOR, labels=[first, second], match_all_labels=True
        ),
    }


def measure(engine: Engine, repeat: int) -> list[tuple[str, float, float]]:
    results = []
    with Session(engine) as session:
        for name, run in queries(session).items():
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                run()
                timings.append((time.perf_counter() - started) * 1000)
                session.rollback()
            results.append((name, statistics.median(timings), max(timings)))
    return results


def bench(engine_name: str, contacts: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="siaran-bench-app-") as folder:
        server = None
        if engine_name == "sqlite":
            url = f"sqlite:///{Path(folder) / 'app.db'}"
        else:
            server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with server.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
            url = PG_URL.rsplit("/", 1)[0] + "/" + PG_DATABASE
        engine = make_engine(url)
        try:
            upgrade(engine)
            report = seed_demo(engine, contacts=contacts, now=NOW)
            print(f"\n{engine_name}: seeded {report.contacts:,} contacts, "
                  f"{report.contact_labels:,} labels, {report.conversations:,} conversations "
                  f"in {report.seconds:.0f} s")  # fmt: skip
            print(f"{'query':<58} {'median ms':>10} {'max ms':>8}")
            for name, median, slowest in measure(engine, repeat):
                print(f"{name:<58} {median:>10.1f} {slowest:>8.1f}")
        finally:
            engine.dispose()
            if server is not None:
                with server.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
                server.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for engine_name in engines:
        bench(engine_name, args.contacts, args.repeat)


if __name__ == "__main__":
    main()
