"""The Contacts page: masked phones for supervisors, search, label filter, paging."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from core.db import UnitOfWork
from core.permissions import Actor
from sql.types import utcnow
from tests.app.conftest import texts
from tests.core import crm_rows

PHONES = ["+6281234567001", "+6281298765002", "+6285711112003"]


@pytest.fixture
def customers(uow: UnitOfWork) -> None:
    now = utcnow()
    with uow.begin() as session:
        for i, (name, phone, labels) in enumerate(
            [
                ("Siti Rahayu", PHONES[0], ["vip", "promo"]),
                ("Budi Santoso", PHONES[1], ["vip"]),
                ("Ani Wijaya", PHONES[2], ["complaint"]),
            ]
        ):
            crm_rows.contact(
                session, name, phone, labels=labels, custom_fields={"city": "Bandung", "tier": i},
                updated_at=now - timedelta(minutes=i),
            )  # fmt: skip


def _contacts_page(signed_in: Callable[[str], AppTest], email: str) -> AppTest:
    at = signed_in(email)
    at.switch_page("views/contacts.py").run()
    assert not at.exception and not at.error
    return at


@pytest.mark.usefixtures("customers")
def test_supervisors_see_masked_phone_numbers_only(
    signed_in: Callable[[str], AppTest], supervisor: Actor
) -> None:
    at = _contacts_page(signed_in, supervisor.email)
    table = at.dataframe[0].value
    assert list(table["Phone"]) == ["+62812•••••001", "+62812•••••002", "+62857•••••003"]
    shown = table.to_csv() + texts(at)
    assert not any(phone in shown for phone in PHONES)
    assert "Phone numbers are masked for your role." in texts(at)
    assert at.text_input(key="contacts_query").label == "Search by name"


@pytest.mark.usefixtures("customers")
def test_owners_see_full_numbers_labels_and_custom_fields(
    signed_in: Callable[[str], AppTest], owner: Actor
) -> None:
    at = _contacts_page(signed_in, owner.email)
    table = at.dataframe[0].value
    assert list(table["Phone"]) == PHONES
    assert list(table["Labels"]) == ["promo, vip", "vip", "complaint"]
    assert list(table["city"]) == ["Bandung"] * 3
    assert list(table["tier"]) == [0, 1, 2]
    assert "1–3 of 3 contacts" in texts(at)
    assert at.text_input(key="contacts_query").label == "Search by name or phone"


@pytest.mark.usefixtures("customers")
def test_search_and_label_filter(signed_in: Callable[[str], AppTest], owner: Actor) -> None:
    at = _contacts_page(signed_in, owner.email)
    at.text_input(key="contacts_query").input("0812").run()
    assert list(at.dataframe[0].value["Name"]) == ["Siti Rahayu", "Budi Santoso"]
    at.text_input(key="contacts_query").input("").run()
    at.multiselect(key="contacts_labels").select("vip").select("promo").run()
    assert list(at.dataframe[0].value["Name"]) == ["Siti Rahayu", "Budi Santoso"]
    at.toggle(key="contacts_match_all").set_value(True).run()
    assert list(at.dataframe[0].value["Name"]) == ["Siti Rahayu"]
    at.text_input(key="contacts_query").input("nobody").run()
    assert not at.dataframe
    assert "No contacts match these filters." in texts(at)


def test_pages_through_many_contacts(
    signed_in: Callable[[str], AppTest], owner: Actor, uow: UnitOfWork
) -> None:
    now = utcnow()
    with uow.begin() as session:
        for i in range(60):
            crm_rows.contact(
                session, f"Customer {i:02d}", f"+628123450{i:04d}",
                updated_at=now - timedelta(minutes=i),
            )  # fmt: skip
    at = _contacts_page(signed_in, owner.email)
    assert len(at.dataframe[0].value) == 50
    assert "1–50 of 60 contacts" in texts(at)
    at.pagination(key="contacts_page").set_value(2).run()
    assert list(at.dataframe[0].value["Name"]) == [f"Customer {i:02d}" for i in range(50, 60)]
    assert "51–60 of 60 contacts" in texts(at)
    # A new search starts again at the first page.
    at.text_input(key="contacts_query").input("Customer").run()
    assert "1–50 of 60 contacts" in texts(at)


def test_no_contacts_yet_explains_how_to_import(
    signed_in: Callable[[str], AppTest], supervisor: Actor
) -> None:
    at = _contacts_page(signed_in, supervisor.email)
    assert not at.dataframe
    assert "No contacts yet." in texts(at)
