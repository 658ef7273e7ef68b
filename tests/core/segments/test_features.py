"""contact_features: what a refresh computes, label bits, incremental refreshes, freshness."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from core.db import UnitOfWork
from core.segments.compiler import STATUS_BITS
from core.segments.features import (
    LABEL_BIT_COUNT,
    contacts_with_activity_since,
    features_computed_at,
    label_masks,
    refresh_contact_features,
)
from sql.schema import Contact, ContactFeature, ContactLabel, Label, LabelBit
from tests.core.segments.conftest import Shop, shop_dataset
from tests.core.segments.crm import NOW, Dataset, load, only


def features(engine: Engine) -> dict[uuid.UUID, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(ContactFeature.__table__)).mappings()
        return {row["contact_id"]: dict(row) for row in rows}


def test_a_full_refresh_computes_every_contact(engine: Engine) -> None:
    data = shop_dataset()
    load(engine, data)
    assert refresh_contact_features(engine, now=NOW) == 5
    rows = features(engine)
    masks = _masks(engine)
    (ani,) = data.ids("ani")
    assert rows[ani] == {
        "contact_id": ani,
        "last_interaction_at": NOW - timedelta(days=3),
        "latest_status": "resolved",
        "statuses_seen": STATUS_BITS["resolved"] | STATUS_BITS["closed"] | STATUS_BITS["waiting"],
        "conversation_count": 3,
        "rating_count": 2,
        "avg_rating": 4.5,
        "latest_rating": 5,
        "label_bits": masks["vip"] | masks["loyal"],
        "custom_fields": data.contacts[0]["custom_fields"],
        "computed_at": NOW,
    }
    (citra,) = data.ids("citra")
    assert rows[citra] | {"custom_fields": None} == {
        "contact_id": citra,
        "last_interaction_at": None,
        "latest_status": None,
        "statuses_seen": 0,
        "conversation_count": 0,
        "rating_count": 0,
        "avg_rating": None,
        "latest_rating": None,
        "label_bits": 0,
        "custom_fields": None,
        "computed_at": NOW,
    }
    (dedi,) = data.ids("dedi")
    # The latest conversation (incoming) is unrated: the latest rating is the newest given.
    assert (rows[dedi]["latest_status"], rows[dedi]["latest_rating"]) == ("incoming", 3)


def _masks(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return label_masks(connection)


def test_label_bits_go_to_the_most_used_labels_first(engine: Engine) -> None:
    data = Dataset()
    for i in range(3):
        data.add_contact(f"p{i}", labels=["popular", "common"][: 1 + (i > 0)])
    data.add_contact("r", labels=["rare"])
    load(engine, data)
    refresh_contact_features(engine, now=NOW)
    with engine.connect() as connection:
        bits = dict(
            connection.execute(
                select(Label.name, LabelBit.bit).join(LabelBit, LabelBit.label_id == Label.id)
            ).all()
        )
    assert bits == {"popular": 0, "common": 1, "rare": 2}
    assert _masks(engine) == {"popular": 1, "common": 2, "rare": 4}


def test_labels_beyond_the_bit_budget_stay_live(engine: Engine) -> None:
    data = Dataset()
    names = [f"label{i:02d}" for i in range(LABEL_BIT_COUNT + 2)]
    data.add_contact("everything", labels=names[:-2])
    data.add_contact("the rest", labels=names[-2:] + names[:1])
    load(engine, data)
    refresh_contact_features(engine, now=NOW)
    masks = _masks(engine)
    # label00 is used twice; the rest once each, taken in name order.
    assert len(masks) == LABEL_BIT_COUNT
    assert set(names) - set(masks) == {"label63", "label64"}
    shop = Shop(engine, data)
    has = {"type": "labels", "match": "all", "labels": ["label00", "label64"]}
    assert shop.members(only(has)) == {"the rest"}


def test_new_labels_get_bits_only_at_a_full_refresh(engine: Engine) -> None:
    data = Dataset()
    cid = data.add_contact("ani", labels=["vip"])
    load(engine, data)
    refresh_contact_features(engine, now=NOW)
    with engine.begin() as connection:
        label_id = uuid.uuid4()
        connection.execute(insert(Label.__table__), [{"id": label_id, "name": "fresh"}])
        connection.execute(
            insert(ContactLabel.__table__), [{"contact_id": cid, "label_id": label_id}]
        )
    refresh_contact_features(engine, [cid], now=NOW + timedelta(minutes=1))
    assert "fresh" not in _masks(engine)
    refresh_contact_features(engine, now=NOW + timedelta(minutes=2))
    masks = _masks(engine)
    assert features(engine)[cid]["label_bits"] == masks["vip"] | masks["fresh"]


def test_a_deleted_labels_bit_is_not_reused_while_rows_carry_it(engine: Engine) -> None:
    data = Dataset()
    data.add_contact("a", labels=["old", "kept"])
    load(engine, data)
    refresh_contact_features(engine, now=NOW)
    old_bit = _masks(engine)["old"]
    with engine.begin() as connection:
        connection.execute(delete(Label.__table__).where(Label.name == "old"))
        connection.execute(insert(Label.__table__), [{"id": uuid.uuid4(), "name": "new"}])
    assert "old" not in _masks(engine)
    refresh_contact_features(engine, now=NOW + timedelta(minutes=1))
    # The row still carried the old bit when bits were handed out: "new" got another one.
    assert _masks(engine)["new"] != old_bit
    assert next(iter(features(engine).values()))["label_bits"] == _masks(engine)["kept"]


def test_a_full_refresh_commits_range_by_range(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.segments.features.CHUNK", 2)
    data = shop_dataset()
    load(engine, data)
    assert refresh_contact_features(engine, now=NOW) == 5
    rows = features(engine)
    assert set(rows) == {c["id"] for c in data.contacts}
    assert {row["computed_at"] for row in rows.values()} == {NOW}
    shop = Shop(engine, data)
    assert shop.members(only({"type": "labels", "match": "any", "labels": ["vip"]})) == {
        "ani",
        "dedi",
    }


def test_an_incremental_refresh_touches_only_the_given_contacts(engine: Engine) -> None:
    data = shop_dataset()
    load(engine, data)
    refresh_contact_features(engine, now=NOW)
    (ani,) = data.ids("ani")
    (budi,) = data.ids("budi")
    later = NOW + timedelta(hours=1)
    newcomer = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            insert(Contact.__table__),
            [{"id": newcomer, "name": "new", "phone": "+6281299999999", "custom_fields": {}}],
        )
        connection.execute(
            update(Contact.__table__)
            .where(Contact.id == ani)
            .values(custom_fields={"city": "Medan"})
        )
    written = refresh_contact_features(engine, [ani, newcomer, ani, uuid.uuid4()], now=later)
    assert written == 2
    rows = features(engine)
    assert rows[ani]["custom_fields"] == {"city": "Medan"}
    assert rows[ani]["computed_at"] == later
    assert rows[newcomer]["computed_at"] == later
    assert rows[newcomer]["conversation_count"] == 0
    assert rows[budi]["computed_at"] == NOW


def test_freshness_is_the_start_of_the_last_full_refresh(engine: Engine) -> None:
    with engine.connect() as connection:
        assert features_computed_at(connection) is None
    data = shop_dataset()
    load(engine, data)
    (ani,) = data.ids("ani")
    refresh_contact_features(engine, [ani], now=NOW - timedelta(hours=1))
    with engine.connect() as connection:
        assert features_computed_at(connection) is None  # only some contacts computed
    refresh_contact_features(engine, now=NOW)
    refresh_contact_features(engine, [ani], now=NOW + timedelta(hours=1))
    with engine.connect() as connection:
        assert features_computed_at(connection) == NOW


def test_a_refresh_rewrites_only_rows_that_changed(engine: Engine) -> None:
    data = shop_dataset()
    load(engine, data)
    assert refresh_contact_features(engine, now=NOW) == 5
    (budi,) = data.ids("budi")
    with engine.begin() as connection:
        connection.execute(
            update(Contact.__table__).where(Contact.id == budi).values(custom_fields={})
        )
    later = NOW + timedelta(hours=1)
    assert refresh_contact_features(engine, now=later) == 1
    rows = features(engine)
    assert rows[budi]["computed_at"] == later
    assert {row["computed_at"] for cid, row in rows.items() if cid != budi} == {NOW}
    with engine.connect() as connection:
        assert features_computed_at(connection) == later


def test_a_refresh_in_a_session_is_undone_by_its_rollback(uow: UnitOfWork) -> None:
    load(uow.engine, shop_dataset())
    with uow.session() as session:
        assert refresh_contact_features(session, now=NOW) == 5
        session.rollback()
    assert features(uow.engine) == {}


def test_deleting_a_contact_drops_its_features(engine: Engine) -> None:
    data = shop_dataset()
    load(engine, data)
    refresh_contact_features(engine, now=NOW)
    (ani,) = data.ids("ani")
    with engine.begin() as connection:
        connection.execute(delete(Contact.__table__).where(Contact.id == ani))
    assert ani not in features(engine)


def test_activity_since_finds_new_edits_messages_and_labels(engine: Engine) -> None:
    data = Dataset()
    quiet = data.add_contact("quiet", conversations=[("closed", None, 30)])
    talker = data.add_contact("talker", conversations=[("incoming", None, 0.5)])
    tagged = data.add_contact("tagged")
    load(engine, data)
    since = NOW - timedelta(days=1)
    with engine.begin() as connection:
        label_id = uuid.uuid4()
        connection.execute(insert(Label.__table__), [{"id": label_id, "name": "vip"}])
        connection.execute(
            insert(ContactLabel.__table__),
            [{"contact_id": tagged, "label_id": label_id, "created_at": NOW}],
        )
    with engine.connect() as connection:
        found = set(contacts_with_activity_since(connection, since))
    assert found == {talker, tagged}
    assert quiet not in found
