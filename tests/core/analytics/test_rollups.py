"""The engagement tables as pure functions, on a handful of rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from core.analytics import rollups

T0 = datetime(2024, 3, 10, 6, 30, tzinfo=UTC)  # 01:30 in New York, before the DST jump


def messages(*rows: dict) -> pl.LazyFrame:
    base = {name: None for name in rollups.MESSAGE_SCHEMA}
    return pl.LazyFrame(
        [{**base, "status": "sent", "campaign_id": "c", **row} for row in rows],
        schema=rollups.MESSAGE_SCHEMA,
    )


def campaigns(**zones: str) -> pl.LazyFrame:
    return pl.LazyFrame({"campaign_id": list(zones), "timezone": list(zones.values())})


NO_PREFERENCES = pl.LazyFrame(
    {"contact_id": [], "opted_out_at": []},
    schema={"contact_id": pl.String, "opted_out_at": rollups.UTC_TYPE},
)


def facts(rows: pl.LazyFrame, zones: pl.LazyFrame, preferences: pl.LazyFrame = NO_PREFERENCES,
          hours: float = 72) -> pl.DataFrame:  # fmt: skip
    return rollups.message_facts(rows, zones, preferences, attribution_hours=hours).collect()


def test_opt_out_counts_only_inside_the_attribution_window() -> None:
    rows = messages(
        {"message_id": "in", "contact_id": "k1", "sent_at": T0},
        {"message_id": "late", "contact_id": "k2", "sent_at": T0},
        {"message_id": "before", "contact_id": "k3", "sent_at": T0},
        {"message_id": "unsent", "contact_id": "k4"},
        {"message_id": "own", "contact_id": "k5", "sent_at": T0,
         "opted_out_at": T0 + timedelta(hours=1)},
    )  # fmt: skip
    preferences = pl.LazyFrame(
        {
            "contact_id": ["k1", "k2", "k3", "k4", "k5"],
            "opted_out_at": [T0 + timedelta(hours=2), T0 + timedelta(hours=73),
                             T0 - timedelta(hours=1), T0, T0 + timedelta(days=30)],
        },
        schema={"contact_id": pl.String, "opted_out_at": rollups.UTC_TYPE},
    )  # fmt: skip
    found = facts(rows, campaigns(c="UTC"), preferences)
    opted = dict(zip(found["message_id"], found["opted_out_at"], strict=True))
    assert opted["in"] == T0 + timedelta(hours=2)
    assert opted["late"] is None and opted["before"] is None and opted["unsent"] is None
    assert opted["own"] == T0 + timedelta(hours=1)  # the message's own opt-out wins
    shorter = facts(rows, campaigns(c="UTC"), preferences, hours=1.5)
    assert dict(zip(shorter["message_id"], shorter["opted_out_at"], strict=True))["in"] is None


def test_reply_seconds_is_reply_minus_send_and_never_negative() -> None:
    rows = messages(
        {"message_id": "a", "sent_at": T0, "replied_at": T0 + timedelta(minutes=3)},
        {"message_id": "b", "sent_at": T0, "replied_at": T0 - timedelta(minutes=1)},
        {"message_id": "c", "replied_at": T0},
    )
    found = dict(
        zip(*facts(rows, campaigns(c="UTC")).select("message_id", "reply_seconds"), strict=True)
    )
    assert found == {"a": 180.0, "b": None, "c": None}


def test_hours_and_days_are_on_each_campaigns_wall_clock_across_dst() -> None:
    rows = messages(
        {"message_id": "ny1", "sent_at": T0},  # 01:30 EST
        {"message_id": "ny2", "sent_at": T0 + timedelta(hours=1)},  # 03:30 EDT (02:xx skipped)
        {"message_id": "jk", "campaign_id": "j", "sent_at": T0 + timedelta(hours=17)},
        {"message_id": "odd", "campaign_id": "u", "sent_at": T0},
    )
    zones = campaigns(c="America/New_York", j="Asia/Jakarta", u="UTC")
    local = rollups.with_local_time(
        rollups.message_events(facts(rows, zones).lazy()), ["America/New_York", "Asia/Jakarta"]
    )
    hourly = rollups.engagement_hourly(local).collect()
    got = {(r["campaign_id"], r["hour"]): r["sent"] for r in hourly.to_dicts()}
    assert got == {
        ("c", datetime(2024, 3, 10, 1)): 1,
        ("c", datetime(2024, 3, 10, 3)): 1,
        ("j", datetime(2024, 3, 11, 6)): 1,  # 23:30 UTC + 7 h
        ("u", datetime(2024, 3, 10, 6)): 1,
    }
    daily = rollups.engagement_daily(local).collect()
    assert {(r["campaign_id"], r["day"]) for r in daily.to_dicts()} == {
        ("c", date(2024, 3, 10)), ("j", date(2024, 3, 11)), ("u", date(2024, 3, 10)),
    }  # fmt: skip


def test_events_unpivot_every_timestamp_that_is_set() -> None:
    rows = messages(
        {"message_id": "a", "status": "read", "sent_at": T0, "delivered_at": T0,
         "read_at": T0, "replied_at": T0},
        {"message_id": "b", "status": "failed", "failed_at": T0},
        {"message_id": "p", "status": "pending"},
    )  # fmt: skip
    events = rollups.message_events(facts(rows, campaigns(c="UTC")).lazy()).collect()
    assert sorted(zip(events["message_id"], events["event"], strict=True)) == [
        ("a", "delivered"), ("a", "read"), ("a", "replied"), ("a", "sent"), ("b", "failed"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("seconds", "label"),
    [(0, "under 5 min"), (299.9, "under 5 min"), (300, "5-15 min"), (3599, "15-60 min"),
     (3600, "1-3 h"), (86_399, "12-24 h"), (86_400, "1-3 days"), (10**7, "3 days or more")],
)  # fmt: skip
def test_reply_latency_buckets_are_closed_below_and_all_present(seconds: float, label: str) -> None:
    rows = messages(
        {"message_id": "a", "sent_at": T0, "replied_at": T0 + timedelta(seconds=seconds)},
        {"message_id": "b", "sent_at": T0},
    )
    table = rollups.reply_latency(facts(rows, campaigns(c="UTC")).lazy()).collect()
    assert table.height == len(rollups.REPLY_BUCKETS)
    filled = table.filter(pl.col("replies") > 0)
    assert filled["label"].to_list() == [label]
    assert filled["share"].to_list() == [1.0]


def test_by_hour_of_day_and_weekday_fill_every_slot() -> None:
    hourly = pl.LazyFrame(
        {
            "campaign_id": ["c", "c", "c"],
            "hour": [datetime(2024, 3, 4, 9), datetime(2024, 3, 5, 9), datetime(2024, 3, 10, 22)],
            **{event: [1, 2, 0] for event in rollups.EVENTS},
        }
    )
    by_hour = rollups.by_hour_of_day(hourly).collect()
    assert by_hour.height == 24
    assert by_hour.filter(pl.col("hour_of_day") == 9)["read"].item() == 3
    assert by_hour.filter(pl.col("hour_of_day") == 0)["read"].item() == 0
    by_day = rollups.by_day_of_week(hourly).collect()
    assert by_day["day_name"].to_list() == list(rollups.WEEKDAYS)
    assert by_day["sent"].to_list() == [1, 2, 0, 0, 0, 0, 0]


def test_unknown_timezones_fall_back_to_utc() -> None:
    assert rollups.safe_zone("Asia/Jakarta") == "Asia/Jakarta"
    assert rollups.safe_zone("Mars/Olympus") == "UTC"
    assert rollups.safe_zone(None) == "UTC"
