"""Metric definitions on a handful of rows: counts, rates, null on zero denominators, words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from core.analytics import metrics, rollups
from core.settings import PROJECT_ROOT

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def facts(*rows: dict) -> pl.LazyFrame:
    """message_facts rows: every column present, unset ones null."""
    schema = {**rollups.MESSAGE_SCHEMA, "timezone": pl.String(), "reply_seconds": pl.Float64()}
    base = {name: None for name in rollups.FACT_COLUMNS}
    return pl.LazyFrame(
        [{**base, "campaign_id": "c", "timezone": "UTC", **row} for row in rows],
        schema={name: schema[name] for name in rollups.FACT_COLUMNS},
    )


def one(frame: pl.LazyFrame) -> dict:
    (row,) = metrics.campaign_metrics(frame).collect().to_dicts()
    return row


def test_counts_follow_the_timestamps_and_failed_follows_the_status() -> None:
    row = one(
        facts(
            {"message_id": "a", "status": "read", "sent_at": T0, "delivered_at": T0,
             "read_at": T0, "replied_at": T0, "reply_seconds": 0.0},
            # A read without a delivery receipt counts as read, not as delivered.
            {"message_id": "b", "status": "read", "sent_at": T0, "read_at": T0},
            # Failed after being sent: counted as sent and as failed.
            {"message_id": "c", "status": "failed", "sent_at": T0, "failed_at": T0},
            # Retried: failed_at cleared, status pending again: not failed.
            {"message_id": "d", "status": "pending"},
        )
    )  # fmt: skip
    assert (row["total_recipients"], row["sent"], row["delivered"], row["read"]) == (4, 3, 1, 2)
    assert (row["failed"], row["replied"], row["opted_out"]) == (1, 1, 0)
    assert row["status_read"] == 2 and row["status_pending"] == 1 and row["status_sent"] == 0


def test_rates_divide_the_documented_counts() -> None:
    row = one(
        facts(
            *[{"message_id": f"d{i}", "status": "delivered", "sent_at": T0, "delivered_at": T0}
              for i in range(3)],
            {"message_id": "r", "status": "read", "sent_at": T0, "delivered_at": T0,
             "read_at": T0, "replied_at": T0 + timedelta(seconds=30), "reply_seconds": 30.0,
             "opted_out_at": T0},
            {"message_id": "s", "status": "sent", "sent_at": T0},
        )
    )  # fmt: skip
    assert row["delivery_rate"] == pytest.approx(4 / 5)
    assert row["open_rate"] == pytest.approx(1 / 4)
    assert row["reply_rate"] == pytest.approx(1 / 4)
    assert row["response_rate"] == pytest.approx(1 / 5)
    assert row["failure_rate"] == 0
    assert row["opt_out_rate"] == pytest.approx(1 / 4)


def test_zero_denominators_give_null_not_an_error() -> None:
    row = one(facts({"message_id": "p", "status": "pending"}))
    for rate in metrics.RATES:
        if rate != "failure_rate":
            assert row[rate] is None, rate
    assert row["failure_rate"] == 0
    assert row["avg_reply_seconds"] is None and row["median_reply_seconds"] is None
    assert metrics.ratio(3, 0) is None and metrics.ratio(1, 4) == 0.25


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values() -> None:
    rows = [
        {"message_id": str(s), "status": "read", "sent_at": T0, "replied_at": T0,
         "reply_seconds": float(s)}
        for s in (10, 20, 40, 1000)
    ]  # fmt: skip
    row = one(facts(*rows))
    assert row["median_reply_seconds"] == 30
    assert row["avg_reply_seconds"] == pytest.approx(1070 / 4)


def test_campaigns_are_counted_apart() -> None:
    frame = pl.concat(
        [
            facts({"message_id": "a", "status": "sent", "sent_at": T0}),
            facts({"message_id": "b", "status": "pending"}).with_columns(campaign_id=pl.lit("z")),
        ]
    )
    found = {r["campaign_id"]: r for r in metrics.campaign_metrics(frame).collect().to_dicts()}
    assert found["c"]["sent"] == 1 and found["z"]["sent"] == 0
    assert found["z"]["total_recipients"] == 1


def test_from_row_and_formatting() -> None:
    found = metrics.CampaignMetrics.from_row({"sent": 3, "open_rate": 0.125})
    assert found.sent == 3 and found.delivered == 0 and found.open_rate == 0.125
    by_name = metrics.METRIC_BY_NAME
    assert metrics.format_value(by_name["open_rate"], 0.125) == "12.5%"
    assert metrics.format_value(by_name["sent"], 12345) == "12,345"
    assert metrics.format_value(by_name["reply_rate"], None) == "–"
    assert metrics.format_duration(75) == "1 min 15 s"
    assert metrics.format_duration(7260) == "2 h 1 min"
    assert metrics.format_duration(90000) == "1 d 1 h"


def test_every_metric_is_documented_in_docs_metrics_md() -> None:
    text = (PROJECT_ROOT / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"^\| `(\w+)` \|", text, flags=re.MULTILINE))
    assert documented == {m.name for m in metrics.METRICS}
