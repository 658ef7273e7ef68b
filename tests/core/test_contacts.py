"""One contact in full, as each role may see it."""

from __future__ import annotations

import uuid

import pytest

from core.contacts import get_contact
from core.db import UnitOfWork
from core.errors import NotFound, PermissionDenied
from core.permissions import Actor
from tests.core import crm_rows


@pytest.fixture
def contact_id(uow: UnitOfWork) -> uuid.UUID:
    with uow.begin() as session:
        return crm_rows.contact(session, "Siti", "+6281234567001", labels=["vip", "promo"]).id


def test_owner_sees_the_full_number(uow: UnitOfWork, owner: Actor, contact_id: uuid.UUID) -> None:
    with uow.session() as session:
        detail = get_contact(session, owner, contact_id)
    assert (detail.contact.phone, detail.contact.phone_masked) == ("+6281234567001", False)
    assert detail.contact.labels == ("promo", "vip")
    assert detail.opted_out is False


def test_supervisor_sees_a_masked_number(
    uow: UnitOfWork, supervisor: Actor, contact_id: uuid.UUID
) -> None:
    with uow.session() as session:
        detail = get_contact(session, supervisor, contact_id)
    assert (detail.contact.phone, detail.contact.phone_masked) == ("+62812•••••001", True)


def test_agent_may_not_and_unknown_ids_are_not_found(
    uow: UnitOfWork, owner: Actor, agent: Actor, contact_id: uuid.UUID
) -> None:
    with uow.session() as session:
        with pytest.raises(PermissionDenied):
            get_contact(session, agent, contact_id)
        with pytest.raises(NotFound):
            get_contact(session, owner, uuid.uuid4())
