"""Opt-out management: who is opted out (masked for supervisors), and owners opting back in."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from core.bootstrap import Siaran
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from core.optouts import list_opt_outs, opt_in_contact
from core.permissions import Actor
from sql.schema import AuditLog, Contact, ContactPreference
from sql.types import utcnow

BASE = datetime(2026, 3, 1, 9, 0, tzinfo=utcnow().tzinfo)


def opted_out(
    siaran: Siaran,
    name: str,
    phone: str,
    *,
    at: datetime,
    source: str = "keyword",
    reason: str = 'Sent "STOP" on WhatsApp',
) -> uuid.UUID:
    with siaran.uow.begin() as session:
        contact = Contact(name=name, phone=phone, custom_fields={})
        session.add(contact)
        session.flush()
        session.add(
            ContactPreference(
                contact_id=contact.id,
                opted_out=True,
                opted_out_at=at,
                opt_out_reason=reason,
                opt_out_source=source,
            )
        )
        return contact.id


@pytest.fixture
def people(siaran: Siaran) -> dict[str, uuid.UUID]:
    ids = {
        "siti": opted_out(siaran, "Siti Rahayu", "+6281234567001", at=BASE),
        "budi": opted_out(
            siaran,
            "Budi Santoso",
            "+6281298765002",
            at=BASE + timedelta(days=1),
            source="button",
            reason='Sent "Stop promosi" on WhatsApp',
        ),
        "ani": opted_out(
            siaran,
            "Ani Wijaya",
            "+6285711112003",
            at=BASE + timedelta(days=2),
            source="meta_marketing_opt_out",
        ),
    }
    with siaran.uow.begin() as session:
        session.add(Contact(name="Still subscribed", phone="+6281200000004", custom_fields={}))
    return ids


def test_owners_list_opt_outs_newest_first_with_full_numbers(
    siaran: Siaran, owner: Actor, people: dict
) -> None:
    with siaran.uow.session() as session:
        page = list_opt_outs(session, owner)
    assert [item.name for item in page.items] == ["Ani Wijaya", "Budi Santoso", "Siti Rahayu"]
    assert page.items[1].phone == "+6281298765002"
    assert (page.items[1].source, page.items[1].reason) == (
        "button",
        'Sent "Stop promosi" on WhatsApp',
    )
    assert page.total == 3 and not page.has_more


def test_supervisors_see_masked_numbers_and_cannot_search_by_number(
    siaran: Siaran, supervisor: Actor, people: dict
) -> None:
    with siaran.uow.session() as session:
        page = list_opt_outs(session, supervisor)
        assert page.items[0].phone == "+62857•••••003"
        assert list_opt_outs(session, supervisor, search="0812345").total == 0
        assert list_opt_outs(session, supervisor, search="siti").total == 1


def test_filters_by_search_source_and_date(siaran: Siaran, owner: Actor, people: dict) -> None:
    with siaran.uow.session() as session:
        assert [i.name for i in list_opt_outs(session, owner, search="0812987").items] == [
            "Budi Santoso"
        ]
        assert [
            i.name for i in list_opt_outs(session, owner, source="meta_marketing_opt_out").items
        ] == ["Ani Wijaya"]
        window = list_opt_outs(
            session, owner, since=BASE + timedelta(hours=1), until=BASE + timedelta(days=1, hours=1)
        )
        assert [i.name for i in window.items] == ["Budi Santoso"]
        paged = list_opt_outs(session, owner, limit=2, offset=2)
        assert [i.name for i in paged.items] == ["Siti Rahayu"] and paged.total == 3
        with pytest.raises(InvalidInput, match="Unknown opt-out source"):
            list_opt_outs(session, owner, source="carrier-pigeon")
        with pytest.raises(InvalidInput, match="since must not be after until"):
            list_opt_outs(session, owner, since=BASE, until=BASE - timedelta(days=1))


def test_agents_may_not_see_opt_outs(siaran: Siaran, agent: Actor) -> None:
    with siaran.uow.session() as session, pytest.raises(PermissionDenied):
        list_opt_outs(session, agent)


def test_an_owner_opts_a_customer_back_in_with_a_reason(
    siaran: Siaran, owner: Actor, people: dict
) -> None:
    with siaran.uow.begin() as session:
        preference = opt_in_contact(
            session, owner, people["budi"], reason="Asked at the store on 3 March"
        )
    assert not preference.opted_out and preference.opted_in_by == owner.id
    with siaran.uow.session() as session:
        entry = session.scalar(select(AuditLog).where(AuditLog.action == "contact.opt_in"))
        assert list_opt_outs(session, owner).total == 2
    assert entry is not None and entry.actor_id == owner.id
    assert entry.target_id == str(people["budi"])
    assert entry.details["reason"] == "Asked at the store on 3 March"
    assert entry.details["previous"]["opt_out_source"] == "button"


def test_opt_in_needs_a_reason_an_owner_and_an_opted_out_contact(
    siaran: Siaran, owner: Actor, supervisor: Actor, people: dict
) -> None:
    with siaran.uow.begin() as session:
        with pytest.raises(InvalidInput, match="Say why"):
            opt_in_contact(session, owner, people["siti"], reason="  ")
        with pytest.raises(PermissionDenied):
            opt_in_contact(session, supervisor, people["siti"], reason="They asked")
        with pytest.raises(NotFound):
            opt_in_contact(session, owner, uuid.uuid4(), reason="They asked")
        opt_in_contact(session, owner, people["siti"], reason="They asked")
    with siaran.uow.begin() as session, pytest.raises(Conflict, match="is not opted out"):
        opt_in_contact(session, owner, people["siti"], reason="Again")
