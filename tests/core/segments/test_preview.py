"""Preview: counts, reachable vs opted out, breakdowns, sample members and phone masking."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert

from core.db import UnitOfWork
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.permissions import Actor
from core.phones import mask_phone
from core.segments import (
    create_segment,
    preview_criteria,
    preview_segment,
    refresh_contact_features,
)
from core.segments.preview import SAMPLE_SIZE
from sql.schema import ContactLabel, Label
from tests.core.segments.conftest import Shop
from tests.core.segments.crm import NOW, Dataset, load, only

EVERYONE = {"type": "all", "conditions": []}


def test_a_preview_counts_and_breaks_down(shop: Shop, uow: UnitOfWork, owner: Actor) -> None:
    with uow.session() as session:
        preview = preview_criteria(session, owner, EVERYONE, now=NOW)
    assert (preview.matching, preview.reachable, preview.opted_out) == (5, 4, 1)  # citra out
    assert preview.by_status == {"resolved": 2, "closed": 1, "incoming": 1, "none": 1}
    assert preview.by_label == {"vip": 2, "complaint": 1, "loyal": 1, "promo": 1, "reseller": 1}
    assert preview.features_computed_at == NOW
    assert (preview.evaluated_at, preview.source) == (NOW, "criteria")


def test_sample_members_show_what_an_owner_may_see(
    shop: Shop, uow: UnitOfWork, owner: Actor
) -> None:
    with uow.session() as session:
        preview = preview_criteria(session, owner, EVERYONE, now=NOW)
    assert [m.name for m in preview.sample] == ["ani", "budi", "citra", "dedi", "eka"]
    ani = preview.sample[0]
    assert ani.phone == shop.data.contacts[0]["phone"]
    assert not ani.phone_masked
    assert ani.labels == ("loyal", "vip")
    assert ani.last_interaction_at == NOW - timedelta(days=3)
    assert [m.opted_out for m in preview.sample] == [False, False, True, False, False]
    assert preview.sample[2].last_interaction_at is None


def test_supervisors_see_masked_phone_numbers(
    shop: Shop, uow: UnitOfWork, supervisor: Actor
) -> None:
    with uow.session() as session:
        preview = preview_criteria(session, supervisor, EVERYONE, now=NOW)
    phones = {c["name"]: c["phone"] for c in shop.data.contacts}
    for member in preview.sample:
        assert member.phone_masked
        assert member.phone == mask_phone(phones[member.name])
        assert member.phone != phones[member.name]


def test_agents_may_not_preview(shop: Shop, uow: UnitOfWork, agent: Actor) -> None:
    with uow.session() as session, pytest.raises(PermissionDenied):
        preview_criteria(session, agent, EVERYONE, now=NOW)


def test_invalid_criteria_are_reported_with_paths(
    shop: Shop, uow: UnitOfWork, owner: Actor
) -> None:
    with uow.session() as session, pytest.raises(InvalidInput) as caught:
        preview_criteria(session, owner, only({"type": "rating", "measure": "best"}), now=NOW)
    assert [e["path"] for e in caught.value.errors] == [
        "conditions[0].measure",
        "conditions[0].op",
        "conditions[0].value",
    ]


def test_the_sample_is_capped(engine: Engine, uow: UnitOfWork, owner: Actor) -> None:
    data = Dataset()
    for i in range(SAMPLE_SIZE + 5):
        data.add_contact(f"c{i:02d}", labels=["promo"])
    load(engine, data)
    refresh_contact_features(engine, now=NOW)
    with uow.session() as session:
        preview = preview_criteria(session, owner, EVERYONE, now=NOW)
    assert preview.matching == SAMPLE_SIZE + 5
    assert len(preview.sample) == SAMPLE_SIZE
    assert len({m.contact_id for m in preview.sample}) == SAMPLE_SIZE
    assert preview.by_label == {"promo": SAMPLE_SIZE + 5}
    assert preview.by_status == {"none": SAMPLE_SIZE + 5}


def test_labels_without_a_bit_are_counted_live(shop: Shop, uow: UnitOfWork, owner: Actor) -> None:
    with shop.engine.begin() as connection:
        label_id = uuid.uuid4()
        connection.execute(insert(Label.__table__), [{"id": label_id, "name": "brand new"}])
        connection.execute(
            insert(ContactLabel.__table__),
            [{"contact_id": shop.id("eka"), "label_id": label_id}],
        )
    criteria = only({"type": "labels", "match": "any", "labels": ["brand new", "vip"]})
    with uow.session() as session:
        preview = preview_criteria(session, owner, criteria, now=NOW)
    assert preview.matching == 3
    assert preview.by_label["brand new"] == 1
    assert [m.labels for m in preview.sample if m.name == "eka"] == [("brand new", "promo")]


def test_a_saved_dynamic_segment_is_previewed_now_and_a_static_one_as_frozen(
    shop: Shop, uow: UnitOfWork, owner: Actor, supervisor: Actor
) -> None:
    recent = only({"type": "last_interaction", "op": "within_days", "days": 2})  # budi, dedi
    with uow.begin() as session:
        dynamic = create_segment(session, owner, name="d", criteria=recent, now=NOW)
        static = create_segment(session, owner, name="s", criteria=recent, kind="static", now=NOW)
    later = NOW + timedelta(days=1, hours=1)  # budi's message (1 day ago) falls out
    with uow.session() as session:
        live = preview_segment(session, supervisor, dynamic.id, now=later)
        frozen = preview_segment(session, supervisor, static.id, now=later)
        with pytest.raises(NotFound):
            preview_segment(session, supervisor, uuid.uuid4())
    assert (live.source, [m.name for m in live.sample]) == ("criteria", ["dedi"])
    assert (frozen.source, [m.name for m in frozen.sample]) == ("snapshot", ["budi", "dedi"])
    assert frozen.by_status == {"closed": 1, "incoming": 1}
    assert frozen.by_label == {"complaint": 1, "reseller": 1, "vip": 1}
