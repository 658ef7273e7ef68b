"""Property: on generated CRM data and criteria the compiler selects what the reference does.

Each example loads a small generated dataset into one database per engine (reused across
examples), refreshes the features and checks several generated criteria, with labels
read from bits and read live. Values are drawn from small pools so that conditions hit
(ties, day boundaries, numbers stored as text, null and empty fields, non-ASCII text).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from core.segments.compiler import matching_contacts
from core.segments.features import label_masks, refresh_contact_features
from sql.schema import CONVERSATION_STATUSES
from tests.core.segments.crm import NOW, Dataset, load
from tests.core.segments.reference import evaluate

LABELS = ["vip", "promo", "complaint", "reseller"]
# Two keys only, so that conditions and stored values meet often.
FIELDS = ["city", "since"]
TEXTS = ["Jakarta", "jakarta", "", "Grosir Besar", "ÄPFEL äpfel", "5", "2024-01-15",
         "2024-01-15T10:00:00+07:00", "2023-12-31", "2024-13-99"]  # fmt: skip
NUMBERS = [0, 1, -2, 5, 0.5, 2.5, 1000.0]
SCALARS = st.sampled_from([True, False, *NUMBERS, *TEXTS])
STORED = st.sampled_from([None, True, False, *NUMBERS, *TEXTS, *TEXTS, {}, [1, 2]])
# Hours before NOW: 24, 168 and 720 sit exactly on the 1-, 7- and 30-day boundaries; 12/19
# and 36/43 on the midnights (UTC/Jakarta) that start 15 and 14 June, days named in DATES.
HOURS_AGO = [0, 12, 19, 23, 24, 25, 36, 43, 167, 168, 169, 719, 720, 721, 2160, 8760]
DAYS = [1, 7, 30]
DATES = ["2025-05-16", "2025-06-08", "2025-06-14", "2025-06-15"]
COMPARISONS = ["eq", "ne", "gt", "gte", "lt", "lte"]


@st.composite
def datasets(draw: st.DrawFn) -> Dataset:
    data = Dataset()
    for i in range(draw(st.integers(0, 10))):
        contact = data.add_contact(
            f"c{i}",
            labels=draw(st.lists(st.sampled_from(LABELS), unique=True, max_size=3)),
            fields=draw(st.dictionaries(st.sampled_from(FIELDS), STORED, max_size=3)),
            opted_out=draw(st.sampled_from([None, True, False])),
        )
        for _ in range(draw(st.integers(0, 3))):
            last = NOW - timedelta(hours=draw(st.sampled_from(HOURS_AGO)))
            data.add_conversation(
                contact,
                draw(st.sampled_from(CONVERSATION_STATUSES)),
                draw(st.one_of(st.none(), st.integers(1, 5))),
                last,
                created_at=last - timedelta(hours=draw(st.sampled_from([0, 0, 1, 5]))),
            )
    return data


def _field_condition(draw: st.DrawFn) -> dict[str, Any]:
    condition: dict[str, Any] = {"type": "custom_field", "field": draw(st.sampled_from(FIELDS))}
    op = draw(st.sampled_from(["eq", "ne", "in", "contains", "gt", "gte", "lt", "lte",
                               "is_set", "is_not_set"]))  # fmt: skip
    condition["op"] = op
    if op in ("eq", "ne"):
        condition["value"] = draw(SCALARS)
    elif op == "in":
        condition["values"] = draw(st.lists(SCALARS, min_size=1, max_size=3))
    elif op == "contains":
        condition["value"] = draw(st.sampled_from(["jak", "GROSIR", "Ä", "-01"]))
    elif op not in ("is_set", "is_not_set"):
        numbers_or_dates = st.sampled_from([*NUMBERS, "2024-01-01", "2024-01-15", "2023-12-31"])
        condition["value"] = draw(numbers_or_dates)
    return condition


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["labels", "status", "last_interaction", "custom_field",
                                 "conversation_count", "rating", "no_rating"]))  # fmt: skip
    if kind == "labels":
        return {
            "type": "labels",
            "match": draw(st.sampled_from(["any", "all", "none"])),
            "labels": draw(
                st.lists(st.sampled_from([*LABELS, "ghost"]), min_size=1, max_size=2, unique=True)
            ),
        }
    if kind == "status":
        return {
            "type": "status",
            "scope": draw(st.sampled_from(["latest", "any"])),
            "statuses": draw(
                st.lists(
                    st.sampled_from(CONVERSATION_STATUSES), min_size=1, max_size=2, unique=True
                )
            ),
        }
    if kind == "last_interaction":
        op = draw(st.sampled_from(["between", "within_days", "more_than_days_ago", "never"]))
        if op == "between":
            start, end = sorted(draw(st.lists(st.sampled_from(DATES), min_size=2, max_size=2)))
            zone = draw(st.sampled_from(["Asia/Jakarta", "UTC"]))
            return {"type": kind, "op": op, "start": start, "end": end, "timezone": zone}
        if op == "never":
            return {"type": kind, "op": op}
        return {"type": kind, "op": op, "days": draw(st.sampled_from(DAYS))}
    if kind == "custom_field":
        return _field_condition(draw)
    if kind == "conversation_count":
        condition = {
            "type": kind,
            "op": draw(st.sampled_from(COMPARISONS)),
            "value": draw(st.integers(0, 3)),
        }
        window = draw(st.sampled_from([None, 7, 30]))
        return condition if window is None else {**condition, "within_days": window}
    if kind == "rating":
        return {
            "type": kind,
            "measure": draw(st.sampled_from(["average", "latest"])),
            "op": draw(st.sampled_from(COMPARISONS)),
            "value": draw(st.sampled_from([1, 2.5, 3, 4, 4.5, 5])),
        }
    return {"type": "no_rating"}


def _groups(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda kind, conditions: {"type": kind, "conditions": conditions},
        st.sampled_from(["all", "any", "not"]),
        st.lists(children, min_size=1, max_size=3),
    )


def _as_document(node: dict[str, Any]) -> dict[str, Any]:
    if node["type"] in ("all", "any", "not"):
        return node
    return {"type": "all", "conditions": [node]}


CRITERIA = st.recursive(leaves(), _groups, max_leaves=6).map(_as_document)


@settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=datasets(), documents=st.lists(CRITERIA, min_size=4, max_size=4))
def test_compiler_matches_reference(
    module_engine: Engine, data: Dataset, documents: list[dict[str, Any]]
) -> None:
    load(module_engine, data)
    refresh_contact_features(module_engine, now=NOW)
    with module_engine.connect() as connection:
        masks = label_masks(connection)
        for document in documents:
            expected = evaluate(data, document, NOW)
            with_bits = set(connection.execute(matching_contacts(document, NOW, masks)).scalars())
            live = set(connection.execute(matching_contacts(document, NOW)).scalars())
            assert with_bits == expected, document
            assert live == expected, document
