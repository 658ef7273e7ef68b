"""Snapshots: dynamic segments follow the data, static ones stay frozen, history is kept."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, select, update

from core.db import UnitOfWork
from core.errors import Conflict, NotFound
from core.permissions import Actor
from core.segments import (
    create_segment,
    refresh_contact_features,
    resnapshot_segment,
    snapshot_segment,
)
from sql.schema import (
    AuditLog,
    Contact,
    ContactPreference,
    Conversation,
    Segment,
    SegmentMember,
    SegmentMembershipChange,
)
from tests.core.segments.conftest import Shop
from tests.core.segments.crm import NOW, only

VIP = only({"type": "labels", "match": "any", "labels": ["vip"]})  # ani, dedi
RECENT = only({"type": "last_interaction", "op": "within_days", "days": 7})  # ani, budi, dedi
LATER = NOW + timedelta(hours=1)


def members(uow: UnitOfWork, segment_id: uuid.UUID) -> set[uuid.UUID]:
    with uow.session() as session:
        query = select(SegmentMember.contact_id).where(SegmentMember.segment_id == segment_id)
        return set(session.scalars(query))


def changes(uow: UnitOfWork, segment_id: uuid.UUID) -> list[tuple[str, uuid.UUID]]:
    with uow.session() as session:
        rows = session.execute(
            select(SegmentMembershipChange.change, SegmentMembershipChange.contact_id)
            .where(SegmentMembershipChange.segment_id == segment_id)
            .order_by(SegmentMembershipChange.changed_at, SegmentMembershipChange.change)
        )
        return [(change, contact) for change, contact in rows]


def save(uow: UnitOfWork, owner: Actor, name: str, criteria: dict, kind: str) -> uuid.UUID:
    with uow.begin() as session:
        return create_segment(session, owner, name=name, criteria=criteria, kind=kind, now=NOW).id


def make_budi_silent_and_add_a_recent_contact(shop: Shop) -> uuid.UUID:
    """budi's last conversation moves 20 days back; a new contact talks today."""
    newcomer = uuid.uuid4()
    with shop.engine.begin() as connection:
        connection.execute(
            update(Conversation.__table__)
            .where(Conversation.contact_id == shop.id("budi"))
            .values(last_message_at=NOW - timedelta(days=20))
        )
        connection.execute(
            insert(Contact.__table__),
            [{"id": newcomer, "name": "new", "phone": "+6281298765432", "custom_fields": {}}],
        )
        connection.execute(
            insert(Conversation.__table__),
            [
                {
                    "contact_id": newcomer,
                    "status": "incoming",
                    "message_count": 1,
                    "last_message_at": NOW,
                    "created_at": NOW,
                }
            ],
        )
    refresh_contact_features(shop.engine, now=NOW + timedelta(minutes=30))
    return newcomer


def test_a_new_segment_records_its_first_members_as_entered(
    shop: Shop, uow: UnitOfWork, owner: Actor
) -> None:
    segment_id = save(uow, owner, "Recent", RECENT, "dynamic")
    expected = {shop.id(n) for n in ("ani", "budi", "dedi")}
    assert members(uow, segment_id) == expected
    assert sorted(changes(uow, segment_id)) == sorted(("entered", cid) for cid in expected)
    with uow.session() as session:
        segment = session.get(Segment, segment_id)
        assert segment is not None
        assert (segment.contact_count, segment.reachable_count) == (3, 3)
        assert segment.last_refreshed_at == NOW


def test_a_dynamic_snapshot_follows_the_data(shop: Shop, uow: UnitOfWork, owner: Actor) -> None:
    segment_id = save(uow, owner, "Recent", RECENT, "dynamic")
    with uow.session() as session:
        edited_at = session.get(Segment, segment_id).updated_at  # type: ignore[union-attr]
    newcomer = make_budi_silent_and_add_a_recent_contact(shop)

    result = snapshot_segment(shop.engine, segment_id, LATER)

    assert (result.entered, result.left, result.members, result.frozen) == (1, 1, 3, False)
    assert members(uow, segment_id) == {shop.id("ani"), shop.id("dedi"), newcomer}
    assert changes(uow, segment_id)[-2:] == [("entered", newcomer), ("left", shop.id("budi"))]
    with uow.session() as session:
        segment = session.get(Segment, segment_id)
        assert segment is not None
        assert segment.last_refreshed_at == LATER
        assert segment.contact_count == 3
        assert segment.updated_at == edited_at  # a refresh is not an edit
        stamps = set(session.scalars(select(SegmentMember.snapshot_at)))
        assert stamps == {LATER}


def test_a_static_segment_stays_frozen_until_resnapshot(
    shop: Shop, uow: UnitOfWork, owner: Actor
) -> None:
    segment_id = save(uow, owner, "Recent, frozen", RECENT, "static")
    frozen = members(uow, segment_id)
    newcomer = make_budi_silent_and_add_a_recent_contact(shop)
    with shop.engine.begin() as connection:
        connection.execute(
            insert(ContactPreference.__table__),
            [{"contact_id": shop.id("budi"), "opted_out": True}],
        )

    result = snapshot_segment(shop.engine, segment_id, LATER)

    assert result.frozen
    assert (result.members, result.reachable, result.entered, result.left) == (3, 2, 0, 0)
    assert members(uow, segment_id) == frozen
    with uow.session() as session:
        segment = session.get(Segment, segment_id)
        assert segment is not None
        assert (segment.reachable_count, segment.last_refreshed_at) == (2, NOW)

    with uow.begin() as session:
        again = resnapshot_segment(session, owner, segment_id, now=LATER)
    assert (again.entered, again.left, again.frozen) == (1, 1, False)
    assert members(uow, segment_id) == {shop.id("ani"), shop.id("dedi"), newcomer}


def test_snapshots_must_move_forward_in_time(shop: Shop, uow: UnitOfWork, owner: Actor) -> None:
    segment_id = save(uow, owner, "VIP", VIP, "dynamic")
    with pytest.raises(Conflict, match="must be newer"):
        snapshot_segment(shop.engine, segment_id, NOW)


def test_only_snapshots_that_change_membership_are_audited(
    shop: Shop, uow: UnitOfWork, owner: Actor
) -> None:
    segment_id = save(uow, owner, "VIP", VIP, "dynamic")
    snapshot_segment(shop.engine, segment_id, LATER)  # nothing changed
    with shop.engine.begin() as connection:
        connection.execute(delete(Contact.__table__).where(Contact.id == shop.id("dedi")))
    refresh_contact_features(shop.engine, now=LATER)
    result = snapshot_segment(shop.engine, segment_id, LATER + timedelta(hours=1))
    # A deleted contact leaves with its rows (members and history cascade), not as "left".
    assert (result.entered, result.left, result.members) == (0, 0, 1)
    with uow.session() as session:
        actions = list(
            session.scalars(select(AuditLog.action).where(AuditLog.target_id == str(segment_id)))
        )
    # create (with its first snapshot) only: later refreshes changed nobody's membership.
    assert sorted(actions) == ["segment.create", "segment.snapshot"]


def test_a_snapshot_in_a_session_rolls_back_with_it(
    shop: Shop, uow: UnitOfWork, owner: Actor
) -> None:
    segment_id = save(uow, owner, "Recent", RECENT, "dynamic")
    make_budi_silent_and_add_a_recent_contact(shop)
    with uow.session() as session:
        assert snapshot_segment(session, segment_id, LATER).entered == 1
        session.rollback()
    assert members(uow, segment_id) == {shop.id(n) for n in ("ani", "budi", "dedi")}


def test_snapshotting_an_unknown_segment_fails(shop: Shop) -> None:
    with pytest.raises(NotFound):
        snapshot_segment(shop.engine, uuid.uuid4(), LATER)
