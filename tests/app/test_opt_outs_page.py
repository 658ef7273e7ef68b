"""The Opt-outs page: the list with search, source and dates; owners opt customers back in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.bootstrap import Siaran
from core.permissions import Actor
from sql.schema import AuditLog, ContactPreference
from tests.app.conftest import texts
from tests.core.test_optouts import BASE, opted_out


@pytest.fixture
def people(siaran: Siaran) -> dict:
    return {
        "siti": opted_out(siaran, "Siti Rahayu", "+6281234567001", at=BASE),
        "budi": opted_out(
            siaran,
            "Budi Santoso",
            "+6281298765002",
            at=BASE + timedelta(days=1),
            source="button",
            reason='Sent "Stop promosi" on WhatsApp',
        ),
    }


def _page(signed_in: Callable[[str], AppTest], email: str) -> AppTest:
    at = signed_in(email)
    at.switch_page("views/opt_outs.py").run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Opt-outs"
    return at


@pytest.mark.usefixtures("people")
def test_owners_see_who_opted_out_and_filter(
    signed_in: Callable[[str], AppTest], owner: Actor
) -> None:
    at = _page(signed_in, owner.email)
    table = at.dataframe[0].value
    assert list(table["Name"]) == ["Budi Santoso", "Siti Rahayu"]
    assert list(table["Phone"]) == ["+6281298765002", "+6281234567001"]
    assert list(table["Source"]) == ["Tapped the stop button", "Typed a keyword (STOP, BERHENTI…)"]
    at.text_input(key="opt_outs_search").input("0812345").run()
    assert list(at.dataframe[0].value["Name"]) == ["Siti Rahayu"]
    at.text_input(key="opt_outs_search").input("").run()
    at.selectbox(key="opt_outs_source").select("Tapped the stop button").run()
    assert list(at.dataframe[0].value["Name"]) == ["Budi Santoso"]
    at.selectbox(key="opt_outs_source").select("Stopped marketing in WhatsApp").run()
    assert not at.dataframe and "No opt-outs match these filters." in texts(at)
    at.selectbox(key="opt_outs_source").select("Any source").run()
    at.date_input(key="opt_outs_dates").set_value((BASE.date(), BASE.date())).run()
    assert list(at.dataframe[0].value["Name"]) == ["Siti Rahayu"]


def test_an_owner_opts_a_customer_back_in_after_confirming(
    signed_in: Callable[[str], AppTest], owner: Actor, siaran: Siaran, people: dict
) -> None:
    at = _page(signed_in, owner.email)
    at.selectbox(key="opt_in_contact").select("Siti Rahayu · +6281234567001")
    at.text_input(key="opt_in_reason").input("Asked in the store on 3 March")
    at.button[0].click().run()  # not confirmed yet
    assert "Tick the box" in texts(at)
    with siaran.uow.session() as session:
        preference = session.get(ContactPreference, people["siti"])
        assert preference is not None and preference.opted_out
    at.selectbox(key="opt_in_contact").select("Siti Rahayu · +6281234567001")
    at.text_input(key="opt_in_reason").input("Asked in the store on 3 March")
    at.checkbox(key="opt_in_confirmed").check()
    at.button[0].click().run()
    assert not at.exception
    assert "Siti Rahayu will receive broadcasts again." in texts(at)
    assert list(at.dataframe[0].value["Name"]) == ["Budi Santoso"]
    with siaran.uow.session() as session:
        entry = session.scalar(select(AuditLog).where(AuditLog.action == "contact.opt_in"))
    assert entry is not None and entry.actor_email == owner.email
    assert entry.details["reason"] == "Asked in the store on 3 March"


@pytest.mark.usefixtures("people")
def test_supervisors_see_masked_numbers_and_cannot_opt_in(
    signed_in: Callable[[str], AppTest], supervisor: Actor
) -> None:
    at = _page(signed_in, supervisor.email)
    assert list(at.dataframe[0].value["Phone"]) == ["+62812•••••002", "+62812•••••001"]
    assert "Phone numbers are masked for your role." in texts(at)
    assert not at.get("form")
    assert "Opt a customer back in" not in texts(at)


def test_nobody_opted_out_yet(signed_in: Callable[[str], AppTest], owner: Actor) -> None:
    at = _page(signed_in, owner.email)
    assert "Nobody has opted out." in texts(at)
