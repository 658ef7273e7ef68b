"""Checks that the published warehouse tells the truth (run as Dagster asset checks).

``against_operational_db``  per campaign, the messages, sent, delivered, read, failed and
                            replied counts of ``message_facts`` equal the operational
                            database's, over messages unchanged since the last load began
                            minus SETTLE (a message still changing is compared next time)
``rollups_add_up``          ``campaign_metrics`` equals the counts over ``message_facts``;
                            ``engagement_hourly`` and ``engagement_daily`` add up to the
                            same events; ``reply_latency`` adds up to the replies
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Engine, case, func, select

from core.analytics.rollups import EVENTS
from core.analytics.warehouse import Warehouse, WarehouseMissing, read_info
from sql.schema import CampaignMessage as M

#: Longer than any transaction that writes messages takes to commit.
SETTLE = timedelta(minutes=1)
COUNTED = ("total_recipients", "sent", "delivered", "read", "failed", "replied")
FACT_COUNTS = """
    count(*) AS total_recipients, count(sent_at) AS sent, count(delivered_at) AS delivered,
    count(read_at) AS read, count(*) FILTER (WHERE status = 'failed') AS failed,
    count(replied_at) AS replied
"""


@dataclass
class Reconciliation:
    """What a check compared and every difference it found (empty when it passed)."""

    campaigns: int = 0
    cutoff: datetime | None = None
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None  # the check could not run at all

    @property
    def passed(self) -> bool:
        return self.problem is None and not self.mismatches


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _compare(
    expected: dict[str, tuple[int, ...]],
    actual: dict[str, tuple[int, ...]],
    columns: tuple[str, ...],
    *,
    source: str,
    table: str,
) -> list[dict[str, Any]]:
    mismatches = []
    zero = (0,) * len(columns)
    for campaign_id in sorted(set(expected) | set(actual)):
        want, got = expected.get(campaign_id, zero), actual.get(campaign_id, zero)
        for name, w, g in zip(columns, want, got, strict=True):
            if int(w) != int(g):
                mismatches.append(
                    {
                        "campaign_id": campaign_id,
                        "table": table,
                        "column": name,
                        source: int(w),
                        "warehouse": int(g),
                    }
                )
    return mismatches


def against_operational_db(warehouse: Warehouse, engine: Engine) -> Reconciliation:
    """Compare message_facts with the operational campaign_messages (see module docstring)."""
    try:
        with warehouse.reader() as con:
            info = read_info(con)
            if info is None or info.loaded_at is None:
                return Reconciliation(problem="the warehouse has not loaded anything yet")
            cutoff = info.loaded_at - SETTLE
            with engine.connect() as conn:
                operational = {
                    str(row[0]): tuple(row[1:])
                    for row in conn.execute(
                        select(
                            M.campaign_id,
                            func.count(),
                            _count(M.sent_at.is_not(None)),
                            _count(M.delivered_at.is_not(None)),
                            _count(M.read_at.is_not(None)),
                            _count(M.status == "failed"),
                            _count(M.replied_at.is_not(None)),
                        )
                        .where(M.updated_at <= cutoff)
                        .group_by(M.campaign_id)
                    )
                }
                changed = [str(v) for v in conn.scalars(select(M.id).where(M.updated_at > cutoff))]
            con.register("changed", pa.table({"message_id": pa.array(changed, pa.string())}))
            facts = _rows(
                con,
                f"SELECT campaign_id::VARCHAR, {FACT_COUNTS} FROM message_facts f "
                "ANTI JOIN changed c ON f.message_id = c.message_id::UUID GROUP BY 1",
            )
    except WarehouseMissing as exc:
        return Reconciliation(problem=str(exc))
    return Reconciliation(
        campaigns=len(set(operational) | set(facts)),
        cutoff=cutoff,
        mismatches=_compare(
            operational, facts, COUNTED, source="operational", table="message_facts"
        ),
    )


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, tuple[int, ...]]:
    return {row[0]: tuple(row[1:]) for row in con.execute(sql).fetchall()}


def rollups_add_up(warehouse: Warehouse) -> Reconciliation:
    """Every rollup table agrees with message_facts (see module docstring)."""
    events = ", ".join(f"count({event}_at) AS {event}" for event in EVENTS)
    sums = ", ".join(f"sum({event})" for event in EVENTS)
    try:
        with warehouse.reader() as con:
            expected = _rows(
                con, f"SELECT campaign_id::VARCHAR, {FACT_COUNTS} FROM message_facts GROUP BY 1"
            )
            metrics = _rows(
                con, "SELECT campaign_id::VARCHAR, " + ", ".join(COUNTED) + " FROM campaign_metrics"
            )
            event_counts = _rows(
                con, f"SELECT campaign_id::VARCHAR, {events} FROM message_facts GROUP BY 1"
            )
            hourly = _rows(
                con, f"SELECT campaign_id::VARCHAR, {sums} FROM engagement_hourly GROUP BY 1"
            )
            daily = _rows(
                con, f"SELECT campaign_id::VARCHAR, {sums} FROM engagement_daily GROUP BY 1"
            )
            replies = _rows(
                con,
                "SELECT campaign_id::VARCHAR, count(reply_seconds) FROM message_facts GROUP BY 1",
            )
            latency = _rows(
                con, "SELECT campaign_id::VARCHAR, sum(replies) FROM reply_latency GROUP BY 1"
            )
    except WarehouseMissing as exc:
        return Reconciliation(problem=str(exc))
    mismatches = [
        *_compare(expected, metrics, COUNTED, source="facts", table="campaign_metrics"),
        *_compare(event_counts, hourly, EVENTS, source="facts", table="engagement_hourly"),
        *_compare(event_counts, daily, EVENTS, source="facts", table="engagement_daily"),
        *_compare(replies, latency, ("replies",), source="facts", table="reply_latency"),
    ]
    return Reconciliation(campaigns=len(expected), mismatches=mismatches)
