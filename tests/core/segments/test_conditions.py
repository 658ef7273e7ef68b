"""Each kind of condition selects the right contacts, on SQLite and on PostgreSQL.

The shop (see conftest): ani (vip, loyal; Jakarta, gold, spend 2.5M, born 1990-05-01, member;
conversations resolved★5 3 days ago, closed★4 40 days ago, waiting 200 days ago), budi
(reseller, complaint; Bandung, spend 150000.5, born 1985-12-31 as a datetime, not a member;
closed★1 a day ago), citra (no labels; city "", spend "2500000" as text; no conversations),
dedi (vip; no fields; incoming 12 hours ago, in_progress 10 days ago, resolved★3 100 days ago),
eka (promo; city "jakarta", tier null; resolved unrated 400 days ago).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.core.segments.conftest import Shop
from tests.core.segments.crm import NOW, only

EVERYONE = {"ani", "budi", "citra", "dedi", "eka"}


def field(name: str, op: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    condition = {"type": "custom_field", "field": name, "op": op, **extra}
    if value is not None:
        condition["value"] = value
    return only(condition)


CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("everyone", {"type": "all", "conditions": []}, EVERYONE),
    # labels
    ("labels any", only({"type": "labels", "match": "any", "labels": ["vip", "reseller"]}),
     {"ani", "budi", "dedi"}),
    ("labels all", only({"type": "labels", "match": "all", "labels": ["vip", "loyal"]}), {"ani"}),
    ("labels none", only({"type": "labels", "match": "none", "labels": ["vip"]}),
     {"budi", "citra", "eka"}),
    ("unknown label any", only({"type": "labels", "match": "any", "labels": ["ghost"]}), set()),
    ("unknown label none", only({"type": "labels", "match": "none", "labels": ["ghost"]}),
     EVERYONE),
    ("unknown label all", only({"type": "labels", "match": "all", "labels": ["vip", "ghost"]}),
     set()),
    # workflow status
    ("latest status",
     only({"type": "status", "scope": "latest", "statuses": ["resolved", "closed"]}),
     {"ani", "budi", "eka"}),
    ("latest incoming", only({"type": "status", "statuses": ["incoming"]}), {"dedi"}),
    ("any status waiting", only({"type": "status", "scope": "any", "statuses": ["waiting"]}),
     {"ani"}),
    ("any status resolved", only({"type": "status", "scope": "any", "statuses": ["resolved"]}),
     {"ani", "dedi", "eka"}),
    # last interaction
    ("within 7 days", only({"type": "last_interaction", "op": "within_days", "days": 7}),
     {"ani", "budi", "dedi"}),
    ("more than 30 days ago",
     only({"type": "last_interaction", "op": "more_than_days_ago", "days": 30}), {"eka"}),
    ("never", only({"type": "last_interaction", "op": "never"}), {"citra"}),
    ("between", only({"type": "last_interaction", "op": "between", "start": "2025-06-10",
                      "end": "2025-06-14"}), {"budi", "ani"}),
    # conversation count
    ("count >= 3", only({"type": "conversation_count", "op": "gte", "value": 3}),
     {"ani", "dedi"}),
    ("count == 0", only({"type": "conversation_count", "op": "eq", "value": 0}), {"citra"}),
    ("count in 30 days >= 1",
     only({"type": "conversation_count", "op": "gte", "value": 1, "within_days": 30}),
     {"ani", "budi", "dedi"}),
    ("count in 30 days == 2",
     only({"type": "conversation_count", "op": "eq", "value": 2, "within_days": 30}), {"dedi"}),
    ("count in 30 days == 0",
     only({"type": "conversation_count", "op": "eq", "value": 0, "within_days": 30}),
     {"citra", "eka"}),
    ("count in 30 days < 2",
     only({"type": "conversation_count", "op": "lt", "value": 2, "within_days": 30}),
     {"ani", "budi", "citra", "eka"}),
    ("count in 30 days, counted per row behind a label test", {"type": "all", "conditions": [
        {"type": "conversation_count", "op": "gte", "value": 1, "within_days": 30},
        {"type": "labels", "match": "any", "labels": ["vip"]},
    ]}, {"ani", "dedi"}),
    ("count in 30 days == 0 per row", {"type": "all", "conditions": [
        {"type": "conversation_count", "op": "eq", "value": 0, "within_days": 30},
        {"type": "labels", "match": "none", "labels": ["vip"]},
    ]}, {"citra", "eka"}),
    ("count in 30 days != 1",
     only({"type": "conversation_count", "op": "ne", "value": 1, "within_days": 30}),
     {"citra", "dedi", "eka"}),
    # ratings
    ("average >= 4", only({"type": "rating", "measure": "average", "op": "gte", "value": 4}),
     {"ani"}),
    ("average == 4.5", only({"type": "rating", "measure": "average", "op": "eq", "value": 4.5}),
     {"ani"}),
    ("latest <= 3", only({"type": "rating", "measure": "latest", "op": "lte", "value": 3}),
     {"budi", "dedi"}),
    ("no rating", only({"type": "no_rating"}), {"citra", "eka"}),
    # custom fields: text
    ("city eq", field("city", "eq", "Jakarta"), {"ani"}),
    ("city ne", field("city", "ne", "Jakarta"), EVERYONE - {"ani"}),
    ("city in", field("city", "in", values=["Jakarta", "Bandung"]), {"ani", "budi"}),
    ("note contains, case folded", field("note", "contains", "grosir"), {"ani"}),
    ("note contains upper", field("note", "contains", "BARU"), {"citra"}),
    ("city is set", field("city", "is_set"), {"ani", "budi", "eka"}),
    ("tier is not set (null counts as unset)", field("tier", "is_not_set"),
     {"budi", "citra", "dedi", "eka"}),
    # custom fields: numbers are JSON numbers, never numeric-looking text
    ("spend gte", field("total_spend", "gte", 1_000_000), {"ani"}),
    ("spend lt", field("total_spend", "lt", 200_000), {"budi"}),
    ("spend eq float", field("total_spend", "eq", 150_000.5), {"budi"}),
    ("spend eq int", field("total_spend", "eq", 2_500_000), {"ani"}),
    ("spend eq text matches text only", field("total_spend", "eq", "2500000"), {"citra"}),
    # custom fields: dates are ISO strings, compared by their date part
    ("birthday before", field("birthday", "lt", "1989-01-01"), {"budi"}),
    ("birthday on (datetime text)", field("birthday", "eq", "1985-12-31"), {"budi"}),
    ("birthday gte", field("birthday", "gte", "1990-05-01"), {"ani"}),
    # custom fields: booleans
    ("member true", field("member", "eq", True), {"ani"}),
    ("member false", field("member", "eq", False), {"budi"}),
    ("member not true", field("member", "ne", True), EVERYONE - {"ani"}),
    # groups
    ("any group", {"type": "any", "conditions": [
        {"type": "last_interaction", "op": "never"},
        {"type": "labels", "match": "all", "labels": ["vip", "loyal"]},
    ]}, {"ani", "citra"}),
    ("not keeps the contacts a comparison cannot judge", {"type": "not", "conditions": [
        {"type": "rating", "measure": "average", "op": "gte", "value": 4},
    ]}, {"budi", "citra", "dedi", "eka"}),
    ("not of several is none of them", {"type": "not", "conditions": [
        {"type": "labels", "match": "any", "labels": ["vip"]},
        {"type": "last_interaction", "op": "never"},
    ]}, {"budi", "eka"}),
    ("nested", {"type": "all", "conditions": [
        {"type": "custom_field", "field": "city", "op": "is_set"},
        {"type": "any", "conditions": [
            {"type": "rating", "measure": "latest", "op": "lt", "value": 2},
            {"type": "not", "conditions": [{"type": "status", "scope": "any",
                                            "statuses": ["closed"]}]},
        ]},
    ]}, {"budi", "eka"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("criteria", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_condition_selects(shared_shop: Shop, criteria: dict[str, Any], expected: set[str]) -> None:
    assert shared_shop.members(criteria) == expected


def test_relative_conditions_follow_now(shared_shop: Shop) -> None:
    within = only({"type": "last_interaction", "op": "within_days", "days": 7})
    assert shared_shop.members(within, NOW + timedelta(days=2)) == {"ani", "budi", "dedi"}
    assert shared_shop.members(within, NOW + timedelta(days=5)) == {"budi", "dedi"}
    assert shared_shop.members(within, NOW + timedelta(days=30)) == set()
