"""Contact search: name, phone (only for roles that see numbers), labels, paging, masking."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.contact_search import ContactPage, list_labels, search_contacts
from core.db import UnitOfWork
from core.errors import InvalidInput, PermissionDenied
from core.permissions import Actor
from sql.types import utcnow
from tests.core import crm_rows


@pytest.fixture
def customers(uow: UnitOfWork) -> None:
    now = utcnow()
    with uow.begin() as session:
        crm_rows.contact(
            session, "Siti Rahayu", "+6281234567001", labels=["vip", "promo"],
            custom_fields={"city": "Bandung"}, updated_at=now - timedelta(minutes=1),
        )  # fmt: skip
        crm_rows.contact(
            session, "Budi Santoso", "+6281298765002", labels=["vip"],
            updated_at=now - timedelta(minutes=2),
        )  # fmt: skip
        crm_rows.contact(
            session, "Ani 100%_Jaya", "+6285711112003", labels=["complaint"],
            updated_at=now - timedelta(minutes=3),
        )  # fmt: skip
        crm_rows.label(session, "reseller")


def _names(page: ContactPage) -> list[str]:
    return [c.name for c in page.items]


@pytest.mark.usefixtures("customers")
def test_lists_everyone_newest_change_first_with_labels(uow: UnitOfWork, owner: Actor) -> None:
    with uow.session() as session:
        page = search_contacts(session, owner)
    assert page.total == 3
    assert _names(page) == ["Siti Rahayu", "Budi Santoso", "Ani 100%_Jaya"]
    assert page.items[0].labels == ("promo", "vip")
    assert page.items[0].custom_fields == {"city": "Bandung"}
    assert page.items[0].phone == "+6281234567001"
    assert not page.items[0].phone_masked


@pytest.mark.usefixtures("customers")
def test_supervisors_get_masked_numbers_and_cannot_search_by_them(
    uow: UnitOfWork, supervisor: Actor
) -> None:
    with uow.session() as session:
        page = search_contacts(session, supervisor)
        by_digits = search_contacts(session, supervisor, query="0812345")
    assert [c.phone for c in page.items] == [
        "+62812•••••001", "+62812•••••002", "+62857•••••003",
    ]  # fmt: skip
    assert all(c.phone_masked for c in page.items)
    assert by_digits.total == 0


@pytest.mark.usefixtures("customers")
def test_owners_search_by_name_case_insensitively_and_by_phone_in_local_form(
    uow: UnitOfWork, owner: Actor
) -> None:
    with uow.session() as session:
        assert _names(search_contacts(session, owner, query="sANTO")) == ["Budi Santoso"]
        assert _names(search_contacts(session, owner, query="0812-345")) == ["Siti Rahayu"]
        assert _names(search_contacts(session, owner, query="+62857")) == ["Ani 100%_Jaya"]
        # LIKE wildcards in the search text are matched literally.
        assert _names(search_contacts(session, owner, query="100%_")) == ["Ani 100%_Jaya"]
        assert search_contacts(session, owner, query="%").total == 1


@pytest.mark.usefixtures("customers")
def test_label_filter_matches_any_or_all(uow: UnitOfWork, owner: Actor) -> None:
    with uow.session() as session:
        any_of = search_contacts(session, owner, labels=["promo", "complaint"])
        all_of = search_contacts(session, owner, labels=["vip", "promo"], match_all_labels=True)
        with_name = search_contacts(session, owner, query="budi", labels=["vip"])
        nobody = search_contacts(session, owner, labels=["reseller"])
    assert _names(any_of) == ["Siti Rahayu", "Ani 100%_Jaya"]
    assert _names(all_of) == ["Siti Rahayu"]
    assert _names(with_name) == ["Budi Santoso"]
    assert nobody.total == 0


@pytest.mark.usefixtures("customers")
def test_pages_through_results(uow: UnitOfWork, owner: Actor) -> None:
    with uow.session() as session:
        first = search_contacts(session, owner, limit=2)
        second = search_contacts(session, owner, limit=2, offset=2)
    assert (first.total, _names(first), first.has_more) == (
        3, ["Siti Rahayu", "Budi Santoso"], True,
    )  # fmt: skip
    assert (_names(second), second.has_more) == (["Ani 100%_Jaya"], False)


@pytest.mark.usefixtures("customers")
def test_bad_requests_are_refused_precisely(uow: UnitOfWork, owner: Actor) -> None:
    with uow.session() as session:
        with pytest.raises(InvalidInput, match="Unknown label: nope"):
            search_contacts(session, owner, labels=["vip", "nope"])
        with pytest.raises(InvalidInput, match="limit must be between 1 and 500"):
            search_contacts(session, owner, limit=0)
        with pytest.raises(InvalidInput, match="offset must not be negative"):
            search_contacts(session, owner, offset=-1)
        with pytest.raises(InvalidInput, match="at most 200 characters"):
            search_contacts(session, owner, query="x" * 201)


@pytest.mark.usefixtures("customers")
def test_labels_are_listed_with_their_contact_counts(uow: UnitOfWork, supervisor: Actor) -> None:
    with uow.session() as session:
        labels = list_labels(session, supervisor)
    assert [(label.name, label.contact_count) for label in labels] == [
        ("complaint", 1), ("promo", 1), ("reseller", 0), ("vip", 2),
    ]  # fmt: skip


def test_agents_may_not_read_contacts(uow: UnitOfWork, agent: Actor) -> None:
    with uow.session() as session:
        with pytest.raises(PermissionDenied):
            search_contacts(session, agent)
        with pytest.raises(PermissionDenied):
            list_labels(session, agent)
