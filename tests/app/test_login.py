"""Signing in and out of the app."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from streamlit.proto.TextInput_pb2 import TextInput as TextInputProto
from streamlit.testing.v1 import AppTest

from app.auth import ACTOR_KEY
from core.db import UnitOfWork
from core.permissions import Actor, Role
from core.profiles import create_profile, set_active
from core.security import hash_password
from core.sign_ins import MAX_FAILURES
from sql.demo_data import DEMO_PASSWORD
from sql.schema import Profile
from tests.app.conftest import reset_caches, sign_in, texts
from tests.conftest import TEST_PASSWORD


def test_signed_out_visitors_see_only_the_sign_in_form(new_app: Callable[[], AppTest]) -> None:
    at = new_app().run()
    assert not at.exception
    assert at.title[0].value == "Siaran"
    assert [w.label for w in at.text_input] == ["Email", "Password"]
    assert at.text_input(key="sign_in_password").proto.type == TextInputProto.PASSWORD
    assert not at.sidebar.button  # no sign-out, no navigation while signed out


def test_owner_signs_in_and_lands_on_home_with_name_and_role_in_the_sidebar(
    new_app: Callable[[], AppTest], owner: Actor
) -> None:
    at = sign_in(new_app().run(), "Owner@Example.com ", TEST_PASSWORD)
    assert not at.exception and not at.error
    assert at.title[0].value == "Home"
    assert at.session_state[ACTOR_KEY] == owner
    sidebar = [str(e.value) for e in (*at.sidebar.markdown, *at.sidebar.caption)]
    assert sidebar == ["**Test Owner**", "owner@example.com · Owner"]
    assert at.sidebar.button(key="sign_out").label == "Sign out"


def test_wrong_password_says_so_without_a_traceback(
    new_app: Callable[[], AppTest], owner: Actor, uow: UnitOfWork
) -> None:
    at = sign_in(new_app().run(), owner.email, "not-the-password")
    assert [e.value for e in at.error] == ["Wrong email or password."]
    assert not at.exception
    assert ACTOR_KEY not in at.session_state
    assert at.title[0].value == "Siaran"
    at = sign_in(at, "nobody@example.com", TEST_PASSWORD)
    assert [e.value for e in at.error] == ["Wrong email or password."]
    with uow.session() as session:
        profile = session.scalar(select(Profile).where(Profile.email == owner.email))
        assert profile is not None and profile.last_login_at is None


def test_after_five_wrong_passwords_the_form_says_how_long_to_wait(
    new_app: Callable[[], AppTest], owner: Actor
) -> None:
    at = new_app().run()
    for _ in range(MAX_FAILURES):
        at = sign_in(at, owner.email, "not-the-password")
    at = sign_in(at, owner.email, TEST_PASSWORD)
    assert [e.value for e in at.error] == [
        "Too many failed sign-ins for owner@example.com. Try again in 15 minutes, "
        "or ask an owner of your business to check your profile."
    ]
    assert ACTOR_KEY not in at.session_state and not at.exception


def test_empty_form_asks_for_both_fields(new_app: Callable[[], AppTest], owner: Actor) -> None:
    at = sign_in(new_app().run(), "", "")
    assert [e.value for e in at.error] == ["Enter your email and password."]
    assert not at.exception


def test_sign_in_records_the_login_time(
    new_app: Callable[[], AppTest], supervisor: Actor, uow: UnitOfWork
) -> None:
    sign_in(new_app().run(), supervisor.email, TEST_PASSWORD)
    with uow.session() as session:
        profile = session.get(Profile, supervisor.id)
        assert profile is not None and profile.last_login_at is not None


def test_sign_out_forgets_the_session(signed_in: Callable[[str], AppTest], owner: Actor) -> None:
    at = signed_in(owner.email)
    at.session_state["contacts_query"] = "left over"
    at.sidebar.button(key="sign_out").click()
    at.run()
    assert at.title[0].value == "Siaran"
    assert ACTOR_KEY not in at.session_state
    assert "contacts_query" not in at.session_state
    assert not at.sidebar.button


def test_a_deactivated_profile_is_signed_out_on_its_next_click(
    signed_in: Callable[[str], AppTest], owner: Actor, supervisor: Actor, uow: UnitOfWork
) -> None:
    at = signed_in(supervisor.email)
    assert at.title[0].value == "Home"
    with uow.begin() as session:
        assert supervisor.id is not None
        set_active(session, owner, supervisor.id, False)
    at.run()
    assert at.title[0].value == "Siaran"
    assert "no longer active" in texts(at)
    assert ACTOR_KEY not in at.session_state


def test_a_role_change_takes_effect_without_signing_in_again(
    signed_in: Callable[[str], AppTest], supervisor: Actor, uow: UnitOfWork
) -> None:
    at = signed_in(supervisor.email)
    with uow.begin() as session:
        profile = session.get(Profile, supervisor.id)
        assert profile is not None
        profile.role = Role.AGENT.value
    at.run()
    assert at.title[0].value == "No access"
    assert at.session_state[ACTOR_KEY].role is Role.AGENT


def test_the_demo_shows_how_to_sign_in_as_the_demo_owner(
    new_app: Callable[[], AppTest],
    uow: UnitOfWork,
    monkeypatch: pytest.MonkeyPatch,
    owner: Actor,
) -> None:
    at = new_app().run()
    assert "Demo:" not in texts(at)  # SIARAN_ENV=test
    monkeypatch.setenv("SIARAN_ENV", "demo")
    reset_caches()
    at = new_app().run()
    assert "Demo:" not in texts(at)  # no demo owner profile yet
    with uow.begin() as session:
        created = create_profile(
            session, owner, email="owner@demo.siaran.id", full_name="Demo Owner",
            role="owner", password=DEMO_PASSWORD,
        )  # fmt: skip
        demo_owner_id = created.id
    at = new_app().run()
    hint = "Demo: sign in as **owner@demo.siaran.id** with password **siaran-demo**."
    assert hint in texts(at)
    at = sign_in(at, "owner@demo.siaran.id", DEMO_PASSWORD)
    assert at.title[0].value == "Home"
    with uow.begin() as session:
        profile = session.get(Profile, demo_owner_id)
        assert profile is not None
        profile.password_hash = hash_password("a-new-secret-password")
    assert "Demo:" not in texts(new_app().run())  # the hint would no longer be true
