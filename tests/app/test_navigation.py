"""Each role's navigation comes from the permission model."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from app.navigation import NO_ACCESS, PAGES, VIEWS, visible_pages
from core.permissions import Actor, Role

ROLE_PAGES = {
    Role.OWNER: [
        "Home",
        "Contacts",
        "Segments",
        "Opt-outs",
        "Campaigns",
        "Campaign builder",
        "Campaign analytics",
        "WhatsApp templates",
        "WhatsApp account",
        "Audit log",
    ],
    Role.SUPERVISOR: [
        "Home",
        "Contacts",
        "Segments",
        "Opt-outs",
        "Campaigns",
        "Campaign analytics",
        "WhatsApp templates",
        "WhatsApp account",
    ],
    Role.AGENT: [],
}


@pytest.mark.parametrize("role", list(ROLE_PAGES))
def test_visible_pages_follow_the_permissions(role: Role) -> None:
    actor = Actor(id=None, email="x@example.com", role=role)
    assert [spec.title for spec in visible_pages(actor)] == ROLE_PAGES[role]


def test_every_registered_page_has_its_script() -> None:
    for spec in (*PAGES, NO_ACCESS):
        assert (VIEWS / spec.script).is_file(), spec
    assert len({spec.url_path for spec in PAGES}) == len(PAGES)


def test_owner_opens_every_page(signed_in: Callable[[str], AppTest], owner: Actor) -> None:
    at = signed_in(owner.email)
    for spec in PAGES:
        at.switch_page(f"views/{spec.script}").run()
        assert not at.exception and not at.error, spec.title
        assert at.title[0].value == spec.title


def test_supervisor_sees_home_and_contacts_but_not_the_audit_log(
    signed_in: Callable[[str], AppTest], supervisor: Actor
) -> None:
    at = signed_in(supervisor.email)
    assert at.title[0].value == "Home"
    assert not at.dataframe  # no recent-activity table: that is the audit log
    at.switch_page("views/contacts.py").run()
    assert at.title[0].value == "Contacts"
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/audit_log.py")


def test_agent_gets_the_no_access_page_and_nothing_else(
    signed_in: Callable[[str], AppTest], agent: Actor
) -> None:
    at = signed_in(agent.email)
    assert not at.exception and not at.error
    assert at.title[0].value == "No access"
    assert "for owners and supervisors" in at.warning[0].value
    assert "Your role, agent" in at.warning[0].value
    assert at.sidebar.button(key="sign_out")
    for spec in PAGES:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"views/{spec.script}")
