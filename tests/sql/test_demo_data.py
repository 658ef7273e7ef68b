"""Seeding the demo CRM on both engines: what lands in the tables, read back through the ORM."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import phonenumbers
import pytest
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, PermissionDenied
from core.permissions import SYSTEM_ACTOR, Actor
from core.phones import normalize_phone
from core.profiles import authenticate
from sql.demo_catalog import CITIES, LABELS, TIERS
from sql.demo_data import DEMO_PASSWORD, DEMO_PROFILES, SeedReport, has_contacts, seed_demo
from sql.schema import (
    CONVERSATION_STATUSES,
    AuditLog,
    Contact,
    ContactLabel,
    ContactPreference,
    Conversation,
    Label,
    Profile,
)

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
N = 300
CITY_ZONES = {city.name: city.timezone for city in CITIES}


def seed(engine: Engine, **kwargs: Any) -> SeedReport:
    kwargs = {"contacts": N, "seed": 7, "now": NOW} | kwargs
    return seed_demo(engine, **kwargs)


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every seeded row in a stable order, profile ids replaced by emails."""
    with Session(engine) as s:
        email = dict(s.execute(select(Profile.id, Profile.email)).all())
        contacts = s.execute(
            select(
                Contact.id,
                Contact.name,
                Contact.phone,
                Contact.timezone,
                Contact.custom_fields,
                Contact.created_at,
                Contact.updated_at,
            ).order_by(Contact.id)
        ).all()
        conversations = s.execute(
            select(
                Conversation.id,
                Conversation.contact_id,
                Conversation.status,
                Conversation.rating,
                Conversation.assigned_to,
                Conversation.message_count,
                Conversation.created_at,
                Conversation.last_message_at,
            ).order_by(Conversation.id)
        ).all()
        labels = s.execute(
            select(ContactLabel.contact_id, Label.name, ContactLabel.created_at)
            .join(Label)
            .order_by(ContactLabel.contact_id, Label.name)
        ).all()
    return {
        "contacts": [tuple(r) for r in contacts],
        "conversations": [(*r[:4], email.get(r[4]), *r[5:]) for r in conversations],
        "labels": [tuple(r) for r in labels],
    }


def count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_seed_fills_the_crm_tables(engine: Engine) -> None:
    report = seed(engine)

    assert report.contacts == count(engine, Contact) == N
    assert report.conversations == count(engine, Conversation) > N
    assert report.contact_labels == count(engine, ContactLabel) > 0
    assert report.labels_created == count(engine, Label) == len(LABELS)
    assert {p.email for p in report.profiles} == {p.email for p in DEMO_PROFILES}
    assert all(p.created for p in report.profiles)
    assert has_contacts(engine)


def test_same_seed_and_now_give_the_same_data(engine: Engine) -> None:
    seed(engine, seed=11)
    first = snapshot(engine)
    seed(engine, seed=11, reset=True)
    assert snapshot(engine) == first
    seed(engine, seed=12, reset=True)
    other = snapshot(engine)
    assert other["contacts"] != first["contacts"]
    assert {r[2] for r in other["contacts"]} != {r[2] for r in first["contacts"]}


def test_contacts_read_back_through_the_orm(engine: Engine) -> None:
    seed(engine)
    with Session(engine) as s:
        contacts = list(s.scalars(select(Contact)))
    assert len({c.phone for c in contacts}) == N
    for contact in contacts:
        number = phonenumbers.parse(contact.phone)
        assert phonenumbers.is_valid_number(number), contact.phone
        assert phonenumbers.region_code_for_number(number) == "ID"
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
        assert normalize_phone(contact.phone) == contact.phone
        assert contact.name.strip() and "  " not in contact.name
        assert contact.created_at.tzinfo is not None and contact.updated_at.tzinfo is not None
        assert contact.created_at <= contact.updated_at <= NOW
        fields = contact.custom_fields
        assert contact.timezone in (None, CITY_ZONES[fields["city"]])
        assert fields["tier"] in TIERS
        assert fields["gender"] in ("female", "male")
        assert 16 <= (NOW.date() - date.fromisoformat(fields["birthday"])).days / 365.25 <= 73
        assert isinstance(fields["total_spend"], int) and fields["total_spend"] >= 0
        if fields["last_order_date"] is None:
            assert fields["total_spend"] == 0 and fields["order_count"] == 0
        else:
            ordered = date.fromisoformat(fields["last_order_date"])
            # A local date: never before the day the contact was created, nor after today
            # in the easternmost zone.
            assert contact.created_at.date() <= ordered <= (NOW + timedelta(hours=9)).date()
            assert fields["order_count"] >= 1
    assert {c.timezone for c in contacts} >= {"Asia/Jakarta", "Asia/Makassar", None}


def test_conversations_and_labels_belong_to_contacts(engine: Engine) -> None:
    seed(engine)
    with Session(engine) as s:
        contact_ids = set(s.scalars(select(Contact.id)))
        agents = dict(
            s.execute(select(Profile.id, Profile.role).where(Profile.role != "owner")).all()
        )
        conversations = list(s.scalars(select(Conversation)))
        links = s.execute(select(ContactLabel.contact_id, Label.name).join(Label)).all()
        created = dict(s.execute(select(Contact.id, Contact.created_at)).all())
        link_times = s.execute(select(ContactLabel.contact_id, ContactLabel.created_at)).all()
    per_contact = Counter(c.contact_id for c in conversations)
    assert set(per_contact) <= contact_ids
    assert max(per_contact.values()) <= 20
    assert len(per_contact) < len(contact_ids)  # some contacts never wrote in
    year_ago = NOW - timedelta(days=366)
    for c in conversations:
        assert c.status in CONVERSATION_STATUSES
        assert c.rating is None or 1 <= c.rating <= 5
        if c.rating is not None:
            assert c.status in ("resolved", "closed")
        assert year_ago <= c.created_at <= c.last_message_at <= NOW
        assert c.created_at.tzinfo is not None
        assert c.message_count >= 1
        assert (c.assigned_to is None) == (c.status == "incoming")
        assert c.assigned_to is None or c.assigned_to in agents
    assert {c.status for c in conversations} >= {"resolved", "closed"}
    assert any(c.rating is not None for c in conversations)

    labelled = Counter(contact for contact, _ in links)
    assert set(labelled) <= contact_ids
    assert max(labelled.values()) <= 4
    assert len(labelled) < len(contact_ids)  # some contacts carry no label
    assert {name for _, name in links} <= set(LABELS)
    assert all(created[contact] <= at <= NOW for contact, at in link_times)


def test_secondary_indexes_and_foreign_keys_survive_the_load(engine: Engine) -> None:
    before = _structure(engine)
    seed(engine)
    assert _structure(engine) == before


def _structure(engine: Engine) -> dict[str, object]:
    inspector = inspect(engine)
    tables = ("contacts", "contact_labels", "conversations")
    return {
        t: (
            sorted(ix["name"] for ix in inspector.get_indexes(t)),
            sorted(str(fk["referred_table"]) + str(fk["constrained_columns"])
                   for fk in inspector.get_foreign_keys(t)),
        )
        for t in tables
    }  # fmt: skip


def test_refuses_to_mix_demo_data_into_an_existing_crm(engine: Engine) -> None:
    seed(engine, contacts=20)
    before = snapshot(engine), count(engine, AuditLog), count(engine, Profile)
    with pytest.raises(Conflict, match="already has 20 contacts"):
        seed(engine, contacts=20, seed=8)
    assert (snapshot(engine), count(engine, AuditLog), count(engine, Profile)) == before


def test_reset_replaces_the_crm_and_keeps_profiles(engine: Engine) -> None:
    seed(engine, contacts=20)
    with Session(engine) as s:
        profile_ids = set(s.scalars(select(Profile.id)))
        # A preference row points at a contact: reset must cascade, not fail or orphan it.
        s.add(ContactPreference(contact_id=s.scalars(select(Contact.id)).first()))
        s.commit()

    report = seed(engine, contacts=30, reset=True)

    assert report.deleted is not None and report.deleted["contacts"] == 20
    assert count(engine, Contact) == 30
    assert count(engine, ContactPreference) == 0
    assert not any(p.created for p in report.profiles)
    with Session(engine) as s:
        assert set(s.scalars(select(Profile.id))) == profile_ids
        reset_audit = s.scalars(select(AuditLog).where(AuditLog.action == "demo.reset")).one()
    assert reset_audit.details["deleted"]["contacts"] == 20


def test_existing_labels_are_reused(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(Label(name="vip", color="#000000"))
        s.commit()
    report = seed(engine, contacts=50)
    assert report.labels_created == len(LABELS) - 1
    with Session(engine) as s:
        assert s.scalars(select(Label.color).where(Label.name == "vip")).one() == "#000000"


def test_seed_is_audited_as_the_system_and_profiles_can_sign_in(engine: Engine) -> None:
    report = seed(engine, contacts=10)
    with Session(engine) as s:
        entries = list(s.scalars(select(AuditLog)))
        for demo in DEMO_PROFILES:
            assert authenticate(s, demo.email, DEMO_PASSWORD).role == demo.role
    assert {e.actor_email for e in entries} == {SYSTEM_ACTOR.email}
    assert Counter(e.action for e in entries) == {"profile.create": 4, "demo.seed": 1}
    details = next(e.details for e in entries if e.action == "demo.seed")
    assert details["contacts"] == 10 and details["seed"] == 7
    assert details["conversations"] == report.conversations


def test_a_failed_seed_changes_nothing(engine: Engine) -> None:
    before = _structure(engine)

    def interrupt(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        seed(engine, contacts=250, chunk_size=100, on_progress=interrupt)

    for model in (Contact, Conversation, ContactLabel, Label, Profile, AuditLog):
        assert count(engine, model) == 0, model.__name__
    assert _structure(engine) == before
    assert seed(engine, contacts=250, chunk_size=100).contacts == 250


def test_chunking_does_not_break_uniqueness(engine: Engine) -> None:
    report = seed(engine, contacts=N, chunk_size=64)
    with Session(engine) as s:
        distinct = s.scalar(select(func.count(func.distinct(Contact.phone))))
        ids = s.scalar(select(func.count(func.distinct(Conversation.id))))
    assert distinct == N and ids == report.conversations


def test_zero_contacts_creates_only_profiles_and_labels(engine: Engine) -> None:
    report = seed(engine, contacts=0)
    assert (report.contacts, report.conversations) == (0, 0)
    assert count(engine, Profile) == len(DEMO_PROFILES)
    assert count(engine, Label) == len(LABELS)


def test_only_roles_that_manage_contacts_and_profiles_may_seed(
    engine: Engine, supervisor: Actor
) -> None:
    with pytest.raises(PermissionDenied):
        seed(engine, actor=supervisor)
    assert count(engine, Contact) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"contacts": -1}, "contacts must be between"),
        ({"seed": -5}, "seed must be"),
        ({"now": datetime(2026, 3, 1)}, "now must carry a timezone"),
        ({"now": datetime(1969, 7, 20, tzinfo=UTC)}, "year 2000 or later"),
    ],
)
def test_bad_arguments_are_refused(engine: Engine, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        seed(engine, **kwargs)
    assert count(engine, Profile) == 0
