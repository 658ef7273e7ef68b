"""Contact import from CSV: how long 100,000 rows take on SQLite and PostgreSQL.

Generates a deterministic Indonesian-Excel-style file (UTF-8 with BOM, ``;``-delimited,
labels in one quoted cell, 2% of the rows repeating an earlier phone), then on a fresh
migrated database of each engine times three imports through ``core.contacts_import``:

1. into the empty database (every contact created),
2. the same file again (every contact looked up, nothing changed),
3. the file with a changed column and an extra label (every contact updated).

    .venv/bin/python bench/bench_import.py --rows 100000 --engine both

PostgreSQL: a scratch database is created (and dropped) on the server at
``SIARAN_TEST_PG_URL`` (default the local server).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
import uuid

from sqlalchemy import text

from core.contacts_import import ImportOptions, import_contacts
from core.db import UnitOfWork, make_engine
from core.permissions import SYSTEM_ACTOR
from sql.migrate import upgrade

PG_URL = os.environ.get(
    "SIARAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
FIRST = ["Budi", "Siti", "Agus", "Dewi", "Rizky", "Putri", "Andi", "Ayu", "Hendra", "Nur"]
LAST = ["Santoso", "Wijaya", "Saputra", "Lestari", "Hidayat", "Pratama", "Kusuma", "Sari"]
CITIES = ["Jakarta", "Surabaya", "Bandung", "Medan", "Semarang", "Makassar", "Denpasar"]
LABELS = ["vip", "reseller", "promo", "complaint", "new customer", "loyal", "wholesale"]
PREFIXES = ["0811", "0812", "0813", "0821", "0822", "0852", "0857", "0878", "0896"]


def make_csv(rows: int, seed: int = 7, tier: str = "gold", extra_label: str = "") -> bytes:
    rng = random.Random(seed)
    numbers = rng.sample(range(10_000_000, 99_999_999), rows)
    phones = [f"{rng.choice(PREFIXES)}{n}" for n in numbers]
    lines = ["Nama;No HP;Labels;Kota;Tier;Total Spend;Tanggal Lahir"]
    for i in range(rows):
        # Every 50th row repeats an earlier customer: the import merges them.
        phone = phones[rng.randrange(i)] if i and i % 50 == 0 else phones[i]
        labels = ",".join(rng.sample(LABELS, rng.randint(0, 3)) + [extra_label] * bool(extra_label))
        lines.append(
            f'{rng.choice(FIRST)} {rng.choice(LAST)};{phone};"{labels}";{rng.choice(CITIES)};'
            f"{tier};{rng.randint(0, 50_000_000)};"
            f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        )
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def run_engine(name: str, url: str, files: list[tuple[str, bytes]]) -> None:
    engine = make_engine(url)
    upgrade(engine)
    uow = UnitOfWork(engine)
    for label, data in files:
        started = time.perf_counter()
        result = import_contacts(
            uow, SYSTEM_ACTOR, data, options=ImportOptions(region="ID"), file_name="bench.csv"
        )
        seconds = time.perf_counter() - started
        print(
            f"| {name} | {label} | {result.rows:,} | {result.created:,} / {result.updated:,} / "
            f"{result.unchanged:,} | {seconds:.1f} s | {result.rows / seconds:,.0f} rows/s |",
            flush=True,
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    files = [
        ("into an empty database", make_csv(args.rows)),
        ("same file again", make_csv(args.rows)),
        ("every contact changed", make_csv(args.rows, tier="platinum", extra_label="2025")),
    ]
    print(f"{len(files[0][1]) / 1e6:.1f} MB per file")
    print("| engine | import | rows | created / updated / unchanged | time | rate |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    if args.engine in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            run_engine("SQLite", f"sqlite:///{folder}/bench.db", files)
    if args.engine in ("postgresql", "both"):
        server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
        database = f"siaran_bench_{uuid.uuid4().hex[:8]}"
        with server.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        try:
            run_engine("PostgreSQL", PG_URL.rsplit("/", 1)[0] + "/" + database, files)
        finally:
            with server.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            server.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS, files included): {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
