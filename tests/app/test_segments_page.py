"""The Segments page: build a segment without JSON, live preview, roles, refresh, delete."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.bootstrap import Siaran
from core.db import UnitOfWork
from core.permissions import SYSTEM_ACTOR, Actor
from core.segments import create_segment, preview_criteria, refresh_contact_features
from sql.schema import Campaign, ContactPreference, Segment
from sql.types import utcnow
from tests.app.conftest import texts
from tests.pipelines.segment_rig import VIP, customer


@pytest.fixture(autouse=True)
def _no_dagster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refresh happens in the app's process (no Dagster webserver in these tests)."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("SIARAN_DAGSTER_URL", raising=False)


@pytest.fixture
def crm(uow: UnitOfWork, siaran: Siaran) -> None:
    """Ani (vip, opted out), Budi (vip, reseller), Citra (no label, no conversation)."""
    with uow.begin() as session:
        ani = customer(session, "Ani", "+6281200000001", labels=["vip"])
        customer(session, "Budi", "+6281200000002", labels=["vip", "reseller"])
        customer(session, "Citra", "+6281200000003", conversations=0)
        session.add(ContactPreference(contact_id=ani, opted_out=True, opted_out_at=utcnow()))
    refresh_contact_features(siaran.engine)


def saved(uow: UnitOfWork, name: str = "VIP", criteria: dict[str, Any] = VIP) -> uuid.UUID:
    with uow.begin() as session:
        return create_segment(session, SYSTEM_ACTOR, name=name, criteria=criteria).id


def page(signed_in: Callable[[str], AppTest], email: str) -> AppTest:
    at = signed_in(email)
    at.switch_page("views/segments.py").run()
    assert not at.exception, at.exception
    return at


def widget(at: AppTest, kind: str, label: str, nth: int = 0) -> Any:
    found = [w for w in getattr(at, kind) if w.label == label]
    assert len(found) > nth, f"no {kind} labelled {label!r}"
    return found[nth]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def open_segment(at: AppTest, segment_id: uuid.UUID) -> AppTest:
    at.selectbox(key="segments_open").set_value(str(segment_id)).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.usefixtures("crm")
def test_owner_builds_a_segment_without_json_and_the_preview_follows(
    signed_in: Callable[[str], AppTest], owner: Actor, uow: UnitOfWork
) -> None:
    at = page(signed_in, owner.email)
    at.button(key="segments_new").click().run()
    at.text_input(key="segment_name").input("Loyal resellers").run()
    assert metrics(at)["Matching"] == "3"  # no conditions yet: everyone

    at.button[[b.label for b in at.button].index("Add condition")].click().run()
    widget(at, "multiselect", "Labels").select("vip").run()
    assert metrics(at)["Matching"] == "2"
    at.button[[b.label for b in at.button].index("Add condition")].click().run()
    widget(at, "selectbox", "Condition 2").set_value("conversation_count").run()
    widget(at, "selectbox", "Conversations").set_value("gte").run()
    widget(at, "number_input", "Count").set_value(1).run()

    expected_criteria = {"type": "all", "conditions": [
        {"type": "labels", "match": "any", "labels": ["vip"]},
        {"type": "conversation_count", "op": "gte", "value": 1},
    ]}  # fmt: skip
    with uow.session() as session:
        expected = preview_criteria(session, owner, expected_criteria)
    shown = metrics(at)
    assert (shown["Matching"], shown["Reachable"], shown["Opted out"]) == (
        str(expected.matching), str(expected.reachable), str(expected.opted_out))  # fmt: skip
    assert (expected.matching, expected.reachable) == (2, 1)
    sample = at.dataframe[0].value
    assert sorted(sample["Name"]) == ["Ani", "Budi"]
    assert "+6281200000001" in list(sample["Phone"])  # owners see full numbers

    at.button(key="segments_save").click().run()

    assert not at.exception and not at.error
    assert 'Segment "Loyal resellers" created: 2 members, 1 reachable.' in texts(at)
    with uow.session() as session:
        segment = session.scalar(select(Segment).where(Segment.name == "Loyal resellers"))
        assert segment is not None and segment.kind == "dynamic"
        assert segment.criteria == expected_criteria
    assert metrics(at)["Members"] == "2"  # the saved segment is open


@pytest.mark.usefixtures("crm")
def test_unfinished_conditions_explain_what_is_missing_and_save_nothing(
    signed_in: Callable[[str], AppTest], owner: Actor, uow: UnitOfWork
) -> None:
    at = page(signed_in, owner.email)
    at.button(key="segments_new").click().run()
    at.text_input(key="segment_name").input("Half done").run()
    at.button[[b.label for b in at.button].index("Add condition")].click().run()

    assert "Condition 1: labels — needs at least 1 item(s)" in at.warning[0].value
    at.button(key="segments_save").click().run()

    assert "Condition 1: labels — needs at least 1 item(s)" in at.error[0].value
    with uow.session() as session:
        assert session.scalar(select(Segment.id)) is None


@pytest.mark.usefixtures("crm")
def test_supervisors_read_without_changing_anything(
    signed_in: Callable[[str], AppTest], supervisor: Actor, uow: UnitOfWork
) -> None:
    segment_id = saved(uow)
    at = page(signed_in, supervisor.email)

    table = at.dataframe[0].value
    assert list(table["Name"]) == ["VIP"]
    assert (table["Members"][0], table["Reachable"][0], table["Opted out"][0]) == (2, 1, 1)
    open_segment(at, segment_id)
    assert metrics(at)["Members"] == "2" and metrics(at)["Matching"] == "2"
    assert "Has any of the labels **vip**" in texts(at)
    keys = {b.key for b in at.button}
    assert not keys & {"segments_new", "segments_refresh", "segments_edit", "segments_delete"}
    phones = list(at.dataframe[1].value["Phone"])  # the preview's sample
    assert "+62812•••••001" in phones and "+6281200000001" not in phones
    assert "Phone numbers are masked for your role." in texts(at)


@pytest.mark.usefixtures("crm")
def test_owner_edits_a_saved_segment_in_the_builder(
    signed_in: Callable[[str], AppTest], owner: Actor, uow: UnitOfWork
) -> None:
    segment_id = saved(uow)
    at = open_segment(page(signed_in, owner.email), segment_id)

    at.button(key="segments_edit").click().run()
    assert at.text_input(key="segment_name").value == "VIP"
    labels = widget(at, "multiselect", "Labels")
    assert labels.value == ["vip"]
    widget(at, "selectbox", "Contact").set_value("all").run()
    widget(at, "multiselect", "Labels").select("reseller").run()
    assert metrics(at)["Matching"] == "1"
    at.button(key="segments_save").click().run()

    assert 'Segment "VIP" saved: 1 members' in texts(at)
    with uow.session() as session:
        segment = session.get(Segment, segment_id)
        assert segment is not None and segment.contact_count == 1
        assert segment.criteria["conditions"][0]["match"] == "all"


@pytest.mark.usefixtures("crm")
def test_refresh_takes_in_a_new_customer(
    signed_in: Callable[[str], AppTest], owner: Actor, uow: UnitOfWork
) -> None:
    segment_id = saved(uow)
    with uow.begin() as session:
        customer(session, "Dedi", "+6281200000004", labels=["vip"])
    at = open_segment(page(signed_in, owner.email), segment_id)
    assert metrics(at)["Members"] == "2"

    at.button(key="segments_refresh").click().run()

    assert not at.exception
    assert '"VIP" refreshed: 3 members (1 entered, 0 left), 2 reachable.' in texts(at)
    assert metrics(at)["Members"] == "3"
    history = at.dataframe[-1].value  # entered/left per snapshot, newest first
    assert list(history["Entered"]) == [1, 2] and list(history["Left"]) == [0, 0]


@pytest.mark.usefixtures("crm")
def test_delete_is_refused_while_a_campaign_uses_the_segment(
    signed_in: Callable[[str], AppTest], owner: Actor, uow: UnitOfWork
) -> None:
    segment_id = saved(uow)
    with uow.begin() as session:
        campaign = Campaign(name="Lebaran sale", status="scheduled", message_type="text",
                            segment_id=segment_id)  # fmt: skip
        session.add(campaign)
    at = open_segment(page(signed_in, owner.email), segment_id)
    assert "active: Lebaran sale" in texts(at)

    at.button(key="segments_delete").click().run()
    assert 'Delete segment "VIP"?' in at.warning[0].value
    at.button(key="segments_delete_yes").click().run()

    assert '"Lebaran sale" (scheduled)' in at.error[0].value
    with uow.begin() as session:
        assert session.get(Segment, segment_id) is not None
        session.get(Campaign, campaign.id).status = "completed"  # type: ignore[union-attr]
    at.button(key="segments_delete").click().run()
    at.button(key="segments_delete_yes").click().run()
    assert 'Segment "VIP" deleted. Campaigns that named it now name none: Lebaran sale.' in texts(
        at
    )
    with uow.session() as session:
        assert session.get(Segment, segment_id) is None


EVERY_KIND = {"type": "all", "conditions": [
    {"type": "labels", "match": "any", "labels": ["vip", "reseller"]},
    {"type": "status", "scope": "latest", "statuses": ["resolved", "closed"]},
    {"type": "any", "conditions": [
        {"type": "custom_field", "field": "tier", "op": "in", "values": ["gold", "platinum"]},
        {"type": "custom_field", "field": "spend", "op": "gte", "value": 1000000},
        {"type": "custom_field", "field": "since", "op": "lt", "value": "2025-01-31"},
        {"type": "custom_field", "field": "member", "op": "eq", "value": True},
        {"type": "custom_field", "field": "city", "op": "contains", "value": "jak"},
        {"type": "custom_field", "field": "note", "op": "is_set"},
        {"type": "last_interaction", "op": "between", "start": "2025-01-01",
         "end": "2025-12-31", "timezone": "Asia/Makassar"},
    ]},
    {"type": "not", "conditions": [
        {"type": "labels", "match": "none", "labels": ["complaint"]},
        {"type": "last_interaction", "op": "more_than_days_ago", "days": 400},
        {"type": "last_interaction", "op": "never"},
        {"type": "no_rating"},
    ]},
    {"type": "conversation_count", "op": "gte", "value": 2, "within_days": 365},
    {"type": "rating", "measure": "average", "op": "gte", "value": 3.5},
    {"type": "last_interaction", "op": "within_days", "days": 90},
]}  # fmt: skip


@pytest.mark.usefixtures("crm")
def test_every_condition_kind_survives_the_builder_unchanged(
    signed_in: Callable[[str], AppTest], owner: Actor, uow: UnitOfWork
) -> None:
    segment_id = saved(uow, "Everything", EVERY_KIND)
    with uow.session() as session:
        stored = session.get(Segment, segment_id)
        assert stored is not None
        before = (stored.criteria, stored.updated_at)
    at = open_segment(page(signed_in, owner.email), segment_id)
    assert "Field **spend** ≥ `1000000`" in texts(at)

    at.button(key="segments_edit").click().run()
    assert not at.exception and not at.warning  # every condition is complete
    at.button(key="segments_save").click().run()

    assert 'Segment "Everything" saved' in texts(at)
    with uow.session() as session:
        stored = session.get(Segment, segment_id)
        assert stored is not None
        assert (stored.criteria, stored.updated_at) == before  # nothing changed at all
