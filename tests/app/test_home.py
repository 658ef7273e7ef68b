"""The home page's counts equal the database; owners also see recent activity."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from core.db import UnitOfWork
from core.permissions import Actor
from tests.core import crm_rows


@pytest.fixture
def crm(uow: UnitOfWork) -> None:
    with uow.begin() as session:
        for i in range(12):
            person = crm_rows.contact(
                session, f"Customer {i}", f"+628123456{i:04d}", labels=["vip"] if i % 3 else []
            )
            for _ in range(i % 4):
                crm_rows.conversation(session, person)
        crm_rows.label(session, "promo")
        crm_rows.segment(session, "VIP")
        crm_rows.segment(session, "Lapsed")
        for i, status in enumerate(["draft", "draft", "scheduled", "completed", "cancelled"]):
            crm_rows.campaign(session, f"Campaign {i}", status=status)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _count(uow: UnitOfWork, sql: str) -> str:
    with uow.session() as session:
        return f"{session.scalar(text(sql)):,}"


@pytest.mark.usefixtures("crm")
def test_counts_equal_the_database(
    signed_in: Callable[[str], AppTest], supervisor: Actor, uow: UnitOfWork
) -> None:
    at = signed_in(supervisor.email)
    assert not at.exception and not at.error
    metrics = _metrics(at)
    assert metrics["Contacts"] == _count(uow, "SELECT count(*) FROM contacts") == "12"
    assert metrics["Labels"] == _count(uow, "SELECT count(*) FROM labels") == "2"
    assert metrics["Conversations"] == _count(uow, "SELECT count(*) FROM conversations")
    assert metrics["Segments"] == _count(uow, "SELECT count(*) FROM segments") == "2"
    assert metrics["Campaigns"] == _count(uow, "SELECT count(*) FROM campaigns") == "5"
    for status in ("draft", "scheduled", "running", "paused", "completed", "failed", "cancelled"):
        stored = _count(uow, f"SELECT count(*) FROM campaigns WHERE status = '{status}'")
        assert metrics[status.title()] == stored
    assert not at.info  # no empty states


def test_an_empty_database_explains_how_to_fill_it(
    signed_in: Callable[[str], AppTest], owner: Actor
) -> None:
    at = signed_in(owner.email)
    metrics = _metrics(at)
    assert (metrics["Contacts"], metrics["Segments"], metrics["Campaigns"]) == ("0", "0", "0")
    notes = [info.value for info in at.info]
    assert any("No contacts yet" in note and "siaran import contacts" in note for note in notes)
    assert any("No campaigns yet" in note for note in notes)
    assert "Draft" not in metrics  # no per-status row while there are no campaigns


def test_owners_see_the_latest_audit_entries(
    signed_in: Callable[[str], AppTest], owner: Actor
) -> None:
    at = signed_in(owner.email)
    assert [s.value for s in at.subheader][-1] == "Recent activity"
    activity = at.dataframe[0].value
    # The fixture profiles were created by the system user, newest first.
    assert list(activity["Action"]) == ["profile.create"]
    assert list(activity["Who"]) == ["system@siaran.local"]
    assert list(activity.columns) == ["When", "Who", "Role", "Action", "Target"]
