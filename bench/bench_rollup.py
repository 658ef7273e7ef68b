"""Analytics rollup: 10,000,000 message events into the engagement tables, through the real steps.

Generates synthetic staged messages straight into a fresh DuckDB working file (loading ten
million events through SQLite or PostgreSQL is the loader's job, not what this measures),
spread over campaigns in three timezones, then times the production steps of
``core.analytics.refresh`` on them:

    facts    build_message_facts: stage_messages -> message_facts (opt-out attribution,
             time to reply), Polars, in chunks of 1,000,000 messages
    rollup   build_rollup for campaign_metrics, engagement_hourly, engagement_daily and
             reply_latency: message_facts -> the four tables (the target)
    publish  the atomic copy of every published table to siaran.duckdb (for context)

An event is one timestamp set on a message: sent, delivered, read, replied, failed, opted
out. The generator draws each message's events independently (sent 97 %, delivered 90 %,
read 55 %, replied 12 %, failed 3 %, opted out 1 %), so ``--messages 4050000`` gives just
over ten million events; the run prints the exact count.

    .venv/bin/python bench/bench_rollup.py --messages 4050000

Target (DESIGN.md): 10,000,000 message events into the engagement tables in < 30 s.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from core.analytics import refresh
from core.analytics.load import FACTS
from core.analytics.warehouse import Warehouse, scalar
from core.settings import Settings

ZONES = ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")


def generate(con: object, messages: int, campaigns: int) -> int:
    """Fill stage_messages, campaigns and pending marks; returns the number of events."""
    con.execute("SELECT setseed(0.42)")  # type: ignore[attr-defined]
    con.execute(  # type: ignore[attr-defined]
        f"""
        INSERT INTO campaigns
        SELECT uuid() AS campaign_id, 'Campaign ' || i, 'completed', 'template',
               [{", ".join(repr(z) for z in ZONES)}][1 + i % {len(ZONES)}],
               TIMESTAMPTZ '2026-01-01 00:00:00+00', NULL, NULL, now()
        FROM range({campaigns}) t(i)
        """
    )
    con.execute(  # type: ignore[attr-defined]
        """
        CREATE TEMP TABLE campaign_numbers AS
        SELECT row_number() OVER () - 1 AS n, campaign_id FROM campaigns
        """
    )
    con.execute(  # type: ignore[attr-defined]
        f"""
        INSERT INTO stage_messages
        WITH draws AS (
            SELECT i, random() AS a, random() AS b, random() AS c, random() AS d,
                   random() AS e, random() AS f,
                   TIMESTAMPTZ '2026-01-05 01:00:00+00'
                       + to_seconds((i % {campaigns}) * 3600 + (i // {campaigns}) % 7200) AS t0
            FROM range({messages}) t(i)
        )
        SELECT uuid(), ids.campaign_id, uuid(),
               CASE WHEN e < 0.03 THEN 'failed' WHEN c < 0.55 THEN 'read'
                    WHEN b < 0.90 THEN 'delivered' ELSE 'sent' END,
               1, CASE WHEN e < 0.03 THEN 131026 END, CASE WHEN e < 0.03 THEN 'recipient' END,
               NULL, NULL,
               CASE WHEN a < 0.97 THEN t0 END,
               CASE WHEN a < 0.97 AND b < 0.90 THEN t0 + to_seconds(5 + (b * 600)::INT) END,
               CASE WHEN a < 0.97 AND b < 0.90 AND c < 0.55
                    THEN t0 + to_seconds(60 + (c * 86400)::INT) END,
               CASE WHEN e < 0.03 THEN t0 + to_seconds(2) END,
               CASE WHEN a < 0.97 AND d < 0.12 THEN t0 + to_seconds(30 + (d * 2000000)::INT) END,
               CASE WHEN a < 0.97 AND f < 0.01 THEN t0 + to_seconds(600 + (f * 1e7)::INT) END,
               t0, t0
        FROM draws JOIN campaign_numbers AS ids ON ids.n = draws.i % {campaigns}
        """
    )
    con.execute(f"INSERT INTO pending SELECT '{FACTS}', campaign_id FROM campaigns")  # type: ignore[attr-defined]
    return int(
        scalar(
            con,  # type: ignore[arg-type]
            "SELECT count(sent_at) + count(delivered_at) + count(read_at) + count(failed_at) "
            "+ count(replied_at) + count(opted_out_at) FROM stage_messages",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=4_050_000)
    parser.add_argument("--campaigns", type=int, default=200)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="siaran-bench-rollup-"))
    settings = Settings(env="test", data_dir=folder, database_url="sqlite:///unused.db")
    warehouse = Warehouse.for_settings(settings)
    with warehouse.writer() as con:
        started = time.perf_counter()
        events = generate(con, args.messages, args.campaigns)
        generated = time.perf_counter() - started
        print(f"generated {args.messages:,} messages, {events:,} events in {generated:.1f} s")

        started = time.perf_counter()
        refresh.build_message_facts(con, settings)
        facts = time.perf_counter() - started

        timings = {}
        for name in refresh.ROLLUP_STEPS:
            started = time.perf_counter()
            refresh.build_rollup(con, name)
            timings[name] = time.perf_counter() - started
        rollup = sum(timings.values())

        started = time.perf_counter()
        refresh.publish(con, warehouse, settings)
        published = time.perf_counter() - started
        rows = {name: scalar(con, f"SELECT count(*) FROM {name}") for name in refresh.ROLLUP_STEPS}

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"message_facts: {facts:.1f} s ({args.messages / facts:,.0f} messages/s)")
    for name, seconds in timings.items():
        print(f"  {name}: {seconds:.1f} s, {rows[name]:,} rows")
    print(f"rollup (four tables): {rollup:.1f} s, {events / rollup:,.0f} events/s")
    print(f"facts + rollup: {facts + rollup:.1f} s, {events / (facts + rollup):,.0f} events/s")
    print(f"publish: {published:.1f} s ({warehouse.path.stat().st_size / 2**20:,.0f} MiB file)")
    print(f"peak RSS: {peak:,.0f} MiB")
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
