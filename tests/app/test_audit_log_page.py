"""The Audit log page shows who did what, filtered by target."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from core.db import UnitOfWork
from core.permissions import Actor
from core.profiles import set_active
from tests.app.conftest import texts


def test_owner_reads_and_filters_the_audit_log(
    signed_in: Callable[[str], AppTest], owner: Actor, agent: Actor, uow: UnitOfWork
) -> None:
    assert agent.id is not None
    with uow.begin() as session:
        set_active(session, owner, agent.id, False)
    at = signed_in(owner.email)
    at.switch_page("views/audit_log.py").run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    # Signing in to the app issued the owner's session token.
    assert list(table["Action"]) == [
        "token.issue",
        "profile.deactivate",
        "profile.create",
        "profile.create",
    ]
    assert table["Who"].iloc[1] == owner.email
    assert table["Role"].iloc[1] == "owner"
    at.text_input(key="audit_target_id").input(str(agent.id)).run()
    assert list(at.dataframe[0].value["Action"]) == ["profile.deactivate", "profile.create"]
    at.text_input(key="audit_target_type").input("campaign").run()
    assert not at.dataframe
    assert "No entries for this target." in texts(at)
