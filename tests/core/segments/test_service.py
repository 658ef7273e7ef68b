"""Saved segments: roles, audit, names, edits, deletion guarded by campaigns, statistics."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.db import UnitOfWork
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from core.permissions import Actor
from core.segments import (
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    member_ids,
    membership_history,
    refresh_contact_features,
    resnapshot_segment,
    snapshot_segment,
    update_segment,
)
from sql.schema import AuditLog, Campaign, Conversation, Segment, SegmentMember
from tests.core.segments.conftest import Shop
from tests.core.segments.crm import NOW, only

VIP = only({"type": "labels", "match": "any", "labels": ["vip"]})  # ani, dedi
NEVER = only({"type": "last_interaction", "op": "never"})  # citra (opted out)


def create(uow: UnitOfWork, actor: Actor, name: str = "VIP", **kwargs: Any) -> Any:
    kwargs.setdefault("criteria", VIP)
    with uow.begin() as session:
        return create_segment(session, actor, name=name, now=NOW, **kwargs)


def audit_actions(uow: UnitOfWork, segment_id: uuid.UUID) -> list[tuple[str, str]]:
    with uow.session() as session:
        rows = session.execute(
            select(AuditLog.action, AuditLog.actor_email)
            .where(AuditLog.target_type == "segment", AuditLog.target_id == str(segment_id))
            .order_by(AuditLog.created_at, AuditLog.action)
        )
        return [(action, email) for action, email in rows]


def add_campaign(uow: UnitOfWork, segment_id: uuid.UUID, name: str, status: str) -> uuid.UUID:
    with uow.begin() as session:
        campaign = Campaign(name=name, status=status, message_type="text", segment_id=segment_id)
        session.add(campaign)
        session.flush()
        return campaign.id


def test_an_owner_creates_a_segment(shop: Shop, uow: UnitOfWork, owner: Actor) -> None:
    criteria = {"type": "all", "conditions": [
        {"type": "labels", "match": "any", "labels": [" vip", "vip"]},
    ]}  # fmt: skip
    saved = create(uow, owner, "  VIP customers ", criteria=criteria, description=" Loyal ")
    assert saved.name == "VIP customers"
    assert saved.description == "Loyal"
    assert saved.kind == "dynamic"
    assert saved.criteria == VIP  # normalised: trimmed, repeats dropped, defaults written
    assert (saved.contact_count, saved.reachable_count) == (2, 2)
    assert saved.last_refreshed_at == NOW
    assert saved.created_by == owner.id
    assert (saved.campaign_count, saved.active_campaigns) == (0, ())
    assert ("segment.create", owner.email) in audit_actions(uow, saved.id)


def test_invalid_criteria_are_rejected_with_paths_and_nothing_is_saved(
    shop: Shop, uow: UnitOfWork, owner: Actor
) -> None:
    bad = only({"type": "last_interaction", "op": "between", "start": "2025-01-01", "end": "x"})
    with pytest.raises(InvalidInput) as caught, uow.begin() as session:
        create_segment(session, owner, name="Broken", criteria=bad)
    assert caught.value.errors == [
        {"path": "conditions[0].end", "message": "expected a date (YYYY-MM-DD)"}
    ]
    with uow.session() as session:
        assert session.scalar(select(func.count()).select_from(Segment)) == 0


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [({"name": "  "}, "name"), ({"name": "x" * 201}, "name"), ({"kind": "frozen"}, "kind")],
)
def test_bad_fields_are_rejected(
    shop: Shop, uow: UnitOfWork, owner: Actor, kwargs: dict[str, Any], path: str
) -> None:
    arguments = {"name": "VIP", "criteria": VIP, **kwargs}
    with pytest.raises(InvalidInput) as caught, uow.begin() as session:
        create_segment(session, owner, **arguments)
    assert caught.value.errors[0]["path"] == path


def test_names_are_unique_regardless_of_case(shop: Shop, uow: UnitOfWork, owner: Actor) -> None:
    create(uow, owner, "VIP")
    other = create(uow, owner, "Never talked", criteria=NEVER)
    with pytest.raises(Conflict, match='"vip" already exists'):
        create(uow, owner, "vip")
    with pytest.raises(Conflict, match="already exists"), uow.begin() as session:
        update_segment(session, owner, other.id, name="Vip ")


def test_supervisors_read_but_do_not_write(
    shop: Shop, uow: UnitOfWork, owner: Actor, supervisor: Actor
) -> None:
    saved = create(uow, owner)
    with uow.session() as session:
        assert get_segment(session, supervisor, saved.id).name == "VIP"
        assert [s.name for s in list_segments(session, supervisor)] == ["VIP"]
        assert membership_history(session, supervisor, saved.id)
        for write in (
            lambda: create_segment(session, supervisor, name="Mine", criteria=VIP),
            lambda: update_segment(session, supervisor, saved.id, name="Mine"),
            lambda: delete_segment(session, supervisor, saved.id),
            lambda: resnapshot_segment(session, supervisor, saved.id),
        ):
            with pytest.raises(PermissionDenied):
                write()


def test_agents_may_not_even_read(shop: Shop, uow: UnitOfWork, owner: Actor, agent: Actor) -> None:
    saved = create(uow, owner)
    with uow.session() as session:
        with pytest.raises(PermissionDenied):
            list_segments(session, agent)
        with pytest.raises(PermissionDenied):
            get_segment(session, agent, saved.id)


def test_renaming_is_audited_without_a_new_snapshot(
    shop: Shop, uow: UnitOfWork, owner: Actor
) -> None:
    saved = create(uow, owner)
    with uow.begin() as session:
        renamed = update_segment(
            session, owner, saved.id, name="VIPs", description="best", now=NOW + timedelta(1)
        )
    assert (renamed.name, renamed.description, renamed.last_refreshed_at) == ("VIPs", "best", NOW)
    with uow.begin() as session:
        update_segment(session, owner, saved.id, name="VIPs", criteria=VIP)  # no change at all
    actions = [action for action, _ in audit_actions(uow, saved.id)]
    assert actions.count("segment.update") == 1


def test_new_criteria_take_a_snapshot(shop: Shop, uow: UnitOfWork, owner: Actor) -> None:
    saved = create(uow, owner)
    later = NOW + timedelta(hours=1)
    with uow.begin() as session:
        edited = update_segment(session, owner, saved.id, criteria=NEVER, now=later)
    assert edited.criteria == NEVER
    assert (edited.contact_count, edited.reachable_count) == (1, 0)  # citra opted out
    assert edited.last_refreshed_at == later
    with uow.session() as session:
        (entry, first) = membership_history(session, owner, saved.id)
    assert (entry.changed_at, entry.entered, entry.left) == (later, 1, 2)
    assert (first.changed_at, first.entered, first.left) == (NOW, 2, 0)


def test_deleting_a_segment_in_use_is_refused_with_the_campaign_names(
    shop: Shop, uow: UnitOfWork, owner: Actor
) -> None:
    saved = create(uow, owner)
    add_campaign(uow, saved.id, "Lebaran sale", "scheduled")
    add_campaign(uow, saved.id, "Flash sale", "paused")
    add_campaign(uow, saved.id, "Last year", "completed")
    with uow.session() as session:
        assert get_segment(session, owner, saved.id).active_campaigns == (
            "Flash sale",
            "Lebaran sale",
        )
        assert get_segment(session, owner, saved.id).campaign_count == 3
        with pytest.raises(Conflict) as caught:
            delete_segment(session, owner, saved.id)
    assert '"Flash sale" (paused), "Lebaran sale" (scheduled)' in caught.value.message
    with uow.session() as session:
        assert session.get(Segment, saved.id) is not None


def test_deleting_detaches_finished_and_draft_campaigns(
    shop: Shop, uow: UnitOfWork, owner: Actor
) -> None:
    saved = create(uow, owner)
    done = add_campaign(uow, saved.id, "Last year", "completed")
    draft = add_campaign(uow, saved.id, "Idea", "draft")
    with uow.begin() as session:
        deleted = delete_segment(session, owner, saved.id)
    assert deleted.detached_campaigns == ("Idea", "Last year")
    with uow.session() as session:
        assert session.get(Segment, saved.id) is None
        assert session.get(Campaign, done).segment_id is None  # type: ignore[union-attr]
        assert session.get(Campaign, draft).segment_id is None  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(SegmentMember)) == 0
        with pytest.raises(NotFound):
            get_segment(session, owner, saved.id)
    assert ("segment.delete", owner.email) in audit_actions(uow, saved.id)


def test_the_list_carries_statistics(shop: Shop, uow: UnitOfWork, owner: Actor) -> None:
    vip = create(uow, owner, "b VIP")
    never = create(uow, owner, "A never", criteria=NEVER, kind="static")
    add_campaign(uow, vip.id, "Running one", "running")
    with uow.session() as session:
        listed = list_segments(session, owner)
    assert [(s.name, s.kind, s.contact_count, s.reachable_count) for s in listed] == [
        ("A never", "static", 1, 0),
        ("b VIP", "dynamic", 2, 2),
    ]
    assert [(s.campaign_count, s.active_campaigns) for s in listed] == [
        (0, ()),
        (1, ("Running one",)),
    ]
    assert listed[0].id == never.id


def test_members_of_a_dynamic_segment_are_evaluated_now_and_of_a_static_one_frozen(
    shop: Shop, uow: UnitOfWork, owner: Actor
) -> None:
    recent = only({"type": "last_interaction", "op": "within_days", "days": 2})
    dynamic = create(uow, owner, "Recent", criteria=recent)
    static = create(uow, owner, "Recent, frozen", criteria=recent, kind="static")
    with shop.engine.begin() as connection:
        connection.execute(
            Conversation.__table__.update()
            .where(Conversation.contact_id == shop.id("budi"))
            .values(last_message_at=NOW - timedelta(days=5))
        )
    refresh_contact_features(shop.engine, now=NOW + timedelta(minutes=5))
    later = NOW + timedelta(hours=1)
    with uow.session() as session:
        assert shop.data.names(set(member_ids(session, dynamic.id, now=later))) == {"dedi"}
        assert shop.data.names(set(member_ids(session, static.id, now=later))) == {"budi", "dedi"}
        with pytest.raises(NotFound):
            member_ids(session, uuid.uuid4())
    # The stored snapshot of the dynamic segment catches up when the asset runs.
    assert snapshot_segment(shop.engine, dynamic.id, later).left == 1
