"""Criteria documents: what validates, what is normalised, and how errors point at the bad part."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from core.errors import InvalidInput
from core.segments.criteria import (
    MAX_DEPTH,
    Status,
    criteria_json_schema,
    dump_criteria,
    parse_criteria,
)
from sql.schema import CONVERSATION_STATUSES


def errors_of(document: object) -> list[dict[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        parse_criteria(document)
    assert caught.value.status_code == 422
    return caught.value.errors


def one_condition(condition: dict[str, Any]) -> dict[str, Any]:
    return {"type": "all", "conditions": [condition]}


EVERY_KIND: dict[str, Any] = {
    "type": "all",
    "conditions": [
        {"type": "labels", "match": "any", "labels": ["vip", "reseller"]},
        {"type": "labels", "match": "all", "labels": ["vip"]},
        {"type": "labels", "match": "none", "labels": ["complaint"]},
        {"type": "status", "scope": "latest", "statuses": ["resolved", "closed"]},
        {"type": "status", "scope": "any", "statuses": ["waiting"]},
        {
            "type": "last_interaction",
            "op": "between",
            "start": "2025-01-01",
            "end": "2025-03-31",
            "timezone": "Asia/Makassar",
        },
        {"type": "last_interaction", "op": "within_days", "days": 30},
        {"type": "last_interaction", "op": "more_than_days_ago", "days": 90},
        {"type": "last_interaction", "op": "never"},
        {"type": "custom_field", "field": "city", "op": "eq", "value": "Jakarta"},
        {"type": "custom_field", "field": "city", "op": "ne", "value": "Bandung"},
        {"type": "custom_field", "field": "tier", "op": "in", "values": ["gold", "platinum"]},
        {"type": "custom_field", "field": "note", "op": "contains", "value": "grosir"},
        {"type": "custom_field", "field": "total_spend", "op": "gte", "value": 1000000},
        {"type": "custom_field", "field": "birthday", "op": "lt", "value": "1990-01-01"},
        {"type": "custom_field", "field": "member", "op": "eq", "value": True},
        {"type": "custom_field", "field": "email", "op": "is_set"},
        {"type": "custom_field", "field": "email", "op": "is_not_set"},
        {"type": "conversation_count", "op": "gte", "value": 3},
        {"type": "conversation_count", "op": "eq", "value": 0, "within_days": 90},
        {"type": "rating", "measure": "average", "op": "gte", "value": 4.5},
        {"type": "rating", "measure": "latest", "op": "lte", "value": 2},
        {"type": "no_rating"},
        {"type": "any", "conditions": [{"type": "not", "conditions": [{"type": "no_rating"}]}]},
    ],
}


def test_every_condition_kind_round_trips() -> None:
    assert dump_criteria(parse_criteria(EVERY_KIND)) == EVERY_KIND


def test_defaults_are_written_out_and_repeats_dropped() -> None:
    parsed = parse_criteria(
        {
            "type": "all",
            "conditions": [
                {"type": "labels", "match": "any", "labels": [" vip", "vip", "promo"]},
                {"type": "status", "statuses": ["waiting", "waiting"]},
                {
                    "type": "last_interaction",
                    "op": "between",
                    "start": "2025-01-01",
                    "end": "2025-01-01",
                },
            ],
        }
    )
    assert dump_criteria(parsed)["conditions"] == [
        {"type": "labels", "match": "any", "labels": ["vip", "promo"]},
        {"type": "status", "scope": "latest", "statuses": ["waiting"]},
        {
            "type": "last_interaction",
            "op": "between",
            "start": "2025-01-01",
            "end": "2025-01-01",
            "timezone": "Asia/Jakarta",
        },
    ]


def test_an_empty_all_group_means_everyone() -> None:
    assert dump_criteria(parse_criteria({"type": "all", "conditions": []})) == {
        "type": "all",
        "conditions": [],
    }


def test_statuses_match_the_schema() -> None:
    assert get_args(Status) == CONVERSATION_STATUSES


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        ("everyone", "criteria", "expected an object"),
        ({"conditions": []}, "criteria", "missing 'type'"),
        ({"type": "labels", "match": "any", "labels": ["x"]}, "criteria", "unknown condition type"),
        ({"type": "any", "conditions": []}, "conditions", "needs at least 1"),
        ({"type": "all", "conditions": [], "extra": 1}, "extra", "unknown field"),
        (
            one_condition(
                {
                    "type": "last_interaction",
                    "op": "between",
                    "start": "2025-01-01",
                    "end": "31/01/2025",
                }
            ),
            "conditions[0].end",
            "expected a date (YYYY-MM-DD)",
        ),
        (
            one_condition(
                {
                    "type": "last_interaction",
                    "op": "between",
                    "start": "2025-02-30",
                    "end": "2025-03-01",
                }
            ),
            "conditions[0].start",
            "expected a date",
        ),
        (
            one_condition(
                {
                    "type": "last_interaction",
                    "op": "between",
                    "start": "2025-02-01",
                    "end": "2025-01-01",
                }
            ),
            "conditions[0].end",
            "must not be before start",
        ),
        (
            one_condition(
                {
                    "type": "last_interaction",
                    "op": "between",
                    "start": "2025-01-01",
                    "end": "2025-01-02",
                    "timezone": "Jakarta",
                }
            ),
            "conditions[0].timezone",
            "unknown timezone 'Jakarta'",
        ),
        (
            one_condition({"type": "last_interaction", "op": "lately"}),
            "conditions[0]",
            "unknown op 'lately'",
        ),
        (
            one_condition({"type": "last_interaction", "op": "within_days", "days": 0}),
            "conditions[0].days",
            "must be at least 1",
        ),
        (
            one_condition({"type": "last_interaction", "op": "within_days", "days": "30"}),
            "conditions[0].days",
            "expected a whole number",
        ),
        (
            one_condition({"type": "labels", "match": "some", "labels": ["vip"]}),
            "conditions[0].match",
            "expected one of 'any', 'all' or 'none'",
        ),
        (
            one_condition({"type": "labels", "match": "any", "labels": ["vip", "  "]}),
            "conditions[0].labels[1]",
            "must not be empty",
        ),
        (
            one_condition({"type": "status", "statuses": ["open"]}),
            "conditions[0].statuses[0]",
            "expected one of",
        ),
        (
            one_condition(
                {"type": "custom_field", "field": "birthday", "op": "gt", "value": "last year"}
            ),
            "conditions[0].value",
            "expected a number or a date (YYYY-MM-DD)",
        ),
        (
            one_condition({"type": "custom_field", "field": "vip", "op": "gt", "value": True}),
            "conditions[0].value",
            "expected a number or a date",
        ),
        (
            one_condition({"type": "custom_field", "field": "city", "op": "eq"}),
            "conditions[0].value",
            "required with eq",
        ),
        (
            one_condition(
                {"type": "custom_field", "field": "city", "op": "eq", "value": ["Jakarta"]}
            ),
            "conditions[0].value",
            "expected a text, a number or true/false",
        ),
        (
            one_condition(
                {"type": "custom_field", "field": "city", "op": "in", "value": "Jakarta"}
            ),
            "conditions[0].value",
            'put the choices in "values"',
        ),
        (
            one_condition({"type": "custom_field", "field": "city", "op": "in", "values": []}),
            "conditions[0].values",
            "expected a non-empty list",
        ),
        (
            one_condition({"type": "custom_field", "field": "city", "op": "is_set", "value": "x"}),
            "conditions[0].value",
            "not used with is_set",
        ),
        (
            one_condition({"type": "custom_field", "field": "note", "op": "contains", "value": 5}),
            "conditions[0].value",
            "expected a non-empty text",
        ),
        (
            one_condition({"type": "custom_field", "field": 'a"b', "op": "is_set"}),
            "conditions[0].field",
            "without quotes",
        ),
        (
            one_condition({"type": "conversation_count", "op": "gte", "value": -1}),
            "conditions[0].value",
            "must be at least 0",
        ),
        (
            one_condition({"type": "conversation_count", "op": "gte", "value": 2.5}),
            "conditions[0].value",
            "expected a whole number",
        ),
        (
            one_condition({"type": "rating", "measure": "average", "op": "gte", "value": 6}),
            "conditions[0].value",
            "must be at most 5",
        ),
        (
            one_condition({"type": "rating", "measure": "median", "op": "gte", "value": 4}),
            "conditions[0].measure",
            "expected one of 'average' or 'latest'",
        ),
        (
            one_condition({"type": "no_rating", "value": 1}),
            "conditions[0].value",
            "unknown field",
        ),
    ],
)
def test_errors_name_the_bad_part(document: object, path: str, message: str) -> None:
    errors = errors_of(document)
    assert errors[0]["path"] == path
    assert message in errors[0]["message"]


def test_paths_go_through_nested_groups() -> None:
    document = {
        "type": "any",
        "conditions": [
            {"type": "no_rating"},
            {
                "type": "all",
                "conditions": [
                    {"type": "custom_field", "field": "birthday", "op": "lt", "value": "soon"},
                    {"type": "not", "conditions": [{"type": "labels", "match": "any"}]},
                ],
            },
        ],
    }
    assert errors_of(document) == [
        {
            "path": "conditions[1].conditions[0].value",
            "message": "expected a number or a date (YYYY-MM-DD)",
        },
        {"path": "conditions[1].conditions[1].conditions[0].labels", "message": "required"},
    ]


def test_the_error_message_summarises_the_first_problem() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_criteria(one_condition({"type": "rating", "measure": "average", "op": "gte"}))
    assert str(caught.value) == "Invalid segment criteria: conditions[0].value: required"


def test_nesting_is_bounded() -> None:
    document: dict[str, Any] = {"type": "no_rating"}
    for _ in range(MAX_DEPTH + 1):
        document = {"type": "all", "conditions": [document]}
    errors = errors_of(document)
    assert "nested deeper than" in errors[0]["message"]
    assert errors[0]["path"].startswith("conditions[0].conditions[0]")


def test_the_json_schema_describes_every_condition_type() -> None:
    schema = str(criteria_json_schema())
    for kind in ("labels", "status", "last_interaction", "custom_field", "conversation_count",
                 "rating", "no_rating"):  # fmt: skip
        assert f"'{kind}'" in schema
