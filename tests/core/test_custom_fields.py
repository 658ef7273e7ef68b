"""``core.custom_fields``: custom field names and types discovered from contacts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.custom_fields import MAX_CHOICES, discover_custom_fields, value_type
from core.db import UnitOfWork
from core.errors import PermissionDenied
from core.permissions import Actor
from sql.types import utcnow
from tests.core import crm_rows


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (True, "boolean"),
        (0, "number"),
        (2.5, "number"),
        ("2024-02-29", "date"),
        ("1985-12-31T10:00:00+07:00", "date"),
        ("2024-02-30", "text"),  # no such day
        ("2024-01-05 10:00", "date"),
        ("on 2024-01-05", "text"),
        ("Jakarta", "text"),
        (["a"], "other"),
        ({"a": 1}, "other"),
    ],
)
def test_values_are_typed_as_criteria_compare_them(value: object, expected: str | None) -> None:
    assert value_type(value) == expected


def test_fields_are_typed_by_most_values_and_list_few_choices(
    uow: UnitOfWork, owner: Actor, supervisor: Actor
) -> None:
    now = utcnow()
    with uow.begin() as session:
        for i in range(30):
            fields = {
                "tier": ["gold", "silver", "silver"][i % 3],
                "code": f"C{i:03d}",  # 30 distinct values: too many to offer as choices
                "spend": i * 1000 if i % 10 else "unknown",
                "vip": i % 2 == 0,
                "note": "" if i else "first",
                "tags": ["x"],
            }
            crm_rows.contact(session, f"C{i}", f"+62812000{i:05d}", custom_fields=fields,
                             updated_at=now - timedelta(minutes=i))  # fmt: skip

    with uow.session() as session:
        found = discover_custom_fields(session, supervisor)
        newest = discover_custom_fields(session, owner, sample=5)

    fields = {f.name: f for f in found.fields}
    assert list(fields) == ["code", "note", "spend", "tags", "tier", "vip"]
    assert (fields["tier"].type, fields["tier"].choices) == ("text", ("silver", "gold"))
    assert fields["code"].choices == () and len({f"C{i:03d}" for i in range(30)}) > MAX_CHOICES
    assert (fields["spend"].type, fields["spend"].types) == ("number", {"number": 27, "text": 3})
    assert (fields["vip"].type, fields["vip"].choices) == ("boolean", (False, True))
    assert (fields["note"].contacts, fields["tags"].type) == (1, "text")
    assert fields["tags"].types == {"other": 30}
    assert (found.sampled, found.sample_limit) == (30, 10_000)
    assert newest.sampled == 5
    assert {f.name: f.choices for f in newest.fields}["tier"] == ("silver", "gold")


def test_agents_may_not_look(uow: UnitOfWork, agent: Actor) -> None:
    with uow.session() as session, pytest.raises(PermissionDenied):
        discover_custom_fields(session, agent)
