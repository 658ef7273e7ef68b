"""The compiler's edge cases: local days, tie-breaking of the latest conversation, ``now``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from core.segments.compiler import STATUS_BITS, compile_criteria
from core.segments.features import refresh_contact_features
from tests.core.segments.conftest import Shop
from tests.core.segments.crm import NOW, Dataset, load, only


def test_date_ranges_are_whole_local_days(engine: Engine) -> None:
    data = Dataset()
    cid = data.add_contact("late-night")
    # 00:00 on 1 June in Jakarta is still 31 May in UTC.
    data.add_conversation(cid, "resolved", None, datetime(2025, 5, 31, 17, 0, tzinfo=UTC))
    load(engine, data)
    refresh_contact_features(engine, now=NOW)
    shop = Shop(engine, data)

    def between(day: str, zone: str = "Asia/Jakarta") -> set[str]:
        condition = {"type": "last_interaction", "op": "between", "start": day, "end": day}
        return shop.members(only({**condition, "timezone": zone}))

    assert between("2025-06-01") == {"late-night"}
    assert between("2025-05-31") == set()
    assert between("2025-05-31", "UTC") == {"late-night"}


def test_relative_windows_include_their_first_instant(engine: Engine) -> None:
    data = Dataset()
    week = timedelta(days=7)
    on_edge = data.add_contact("on-edge")
    data.add_conversation(on_edge, "resolved", None, NOW - week)
    just_out = data.add_contact("just-out")
    data.add_conversation(just_out, "resolved", None, NOW - week - timedelta(microseconds=1))
    load(engine, data)
    refresh_contact_features(engine, now=NOW)
    shop = Shop(engine, data)
    within = {"type": "last_interaction", "op": "within_days", "days": 7}
    older = {"type": "last_interaction", "op": "more_than_days_ago", "days": 7}
    counted = {"type": "conversation_count", "op": "eq", "value": 1, "within_days": 7}
    assert shop.members(only(within)) == {"on-edge"}
    assert shop.members(only(older)) == {"just-out"}
    assert shop.members(only(counted)) == {"on-edge"}
    # The same window counted per row (behind a cheaper test) agrees.
    behind = {"type": "all", "conditions": [{"type": "no_rating"}, counted]}
    assert shop.members(behind) == {"on-edge"}


def test_latest_conversation_ties_break_by_creation_then_id(engine: Engine) -> None:
    data = Dataset()
    same_time = NOW - timedelta(days=1)
    first = data.add_contact("created-later-wins")
    data.add_conversation(first, "closed", 2, same_time, created_at=same_time - timedelta(hours=5))
    data.add_conversation(first, "waiting", 5, same_time, created_at=same_time - timedelta(hours=1))
    second = data.add_contact("id-breaks-full-tie")
    low = "00000000-0000-4000-8000-000000000001"
    high = "ffffffff-0000-4000-8000-000000000001"
    for status, rating, cid in (("resolved", 5, high), ("incoming", 1, low)):
        data.add_conversation(
            second, status, rating, same_time, created_at=same_time, conversation_id=uuid.UUID(cid)
        )
    load(engine, data)
    refresh_contact_features(engine, now=NOW)
    shop = Shop(engine, data)
    assert shop.members(only({"type": "status", "statuses": ["waiting"]})) == {"created-later-wins"}
    assert shop.members(only({"type": "status", "statuses": ["resolved"]})) == {
        "id-breaks-full-tie"
    }
    latest_five = only({"type": "rating", "measure": "latest", "op": "eq", "value": 5})
    assert shop.members(latest_five) == {"created-later-wins", "id-breaks-full-tie"}


def test_every_status_has_its_own_bit() -> None:
    bits = list(STATUS_BITS.values())
    assert len(set(bits)) == len(bits) == 5
    assert all(bit & (bit - 1) == 0 for bit in bits)


def test_now_must_carry_a_timezone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compile_criteria({"type": "all", "conditions": []}, datetime(2025, 1, 1))


def test_contains_folds_ascii_letters_only(engine: Engine) -> None:
    data = Dataset()
    data.add_contact("apfel", fields={"note": "ÄPFEL Grosir"})
    load(engine, data)
    refresh_contact_features(engine, now=NOW)
    shop = Shop(engine, data)

    def contains(text: str) -> set[str]:
        return shop.members(only({"type": "custom_field", "field": "note", "op": "contains",
                                  "value": text}))  # fmt: skip

    assert contains("grosir") == {"apfel"}
    assert contains("Äpfel") == {"apfel"}
    # Non-ASCII letters are compared as written, identically on both engines.
    assert contains("äpfel") == set()
