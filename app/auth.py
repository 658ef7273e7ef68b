"""Who is signed in to the Streamlit app, and the composition root every session shares.

The signed-in actor lives in the browser session's ``st.session_state``; it is re-read from
the database on every run, so a deactivated profile or a changed role takes effect at once.
Only the composition root (engine, settings) is cached across sessions: role-filtered data
never is.
"""

from __future__ import annotations

import uuid

import streamlit as st
from sqlalchemy import select

from core.bootstrap import Siaran, bootstrap
from core.errors import AuthenticationFailed
from core.permissions import Actor, Role
from core.profiles import actor_of, authenticate
from core.security import verify_password
from sql.schema import Profile

ACTOR_KEY = "siaran_actor"
NOTICE_KEY = "siaran_notice"


def _release(siaran: Siaran) -> None:
    siaran.engine.dispose()


@st.cache_resource(show_spinner=False, on_release=_release)
def get_siaran() -> Siaran:
    """The composition root, built once per server process from the environment."""
    return bootstrap()


def sign_in(email: str, password: str) -> Actor:
    """Check the credentials and remember the actor in this browser session."""
    if not email.strip() or not password:
        raise AuthenticationFailed("Enter your email and password.")
    with get_siaran().uow.begin() as session:
        actor = actor_of(authenticate(session, email, password))
    st.session_state.clear()
    st.session_state[ACTOR_KEY] = actor
    return actor


def sign_out(notice: str | None = None) -> None:
    """Forget everything this browser session held, so the next user starts clean."""
    st.session_state.clear()
    if notice:
        st.session_state[NOTICE_KEY] = notice


def current_actor() -> Actor | None:
    """The signed-in actor as the database sees it now, or None (signed out if deactivated)."""
    actor: Actor | None = st.session_state.get(ACTOR_KEY)
    if actor is None or actor.id is None:
        return None
    fresh = _active_actor(actor.id)
    if fresh is None:
        sign_out("Your profile is no longer active. Ask an owner of your business.")
        return None
    st.session_state[ACTOR_KEY] = fresh
    return fresh


def signed_in_actor() -> Actor:
    """The actor ``app/main.py`` verified for this run; pages call this first."""
    actor: Actor | None = st.session_state.get(ACTOR_KEY)
    if actor is None:
        raise AuthenticationFailed("Sign in to continue.")
    return actor


def pop_notice() -> str | None:
    """A message left for the sign-in page (e.g. why the user was signed out)."""
    return st.session_state.pop(NOTICE_KEY, None)


def demo_owner_hint() -> str | None:
    """On the embedded demo, how to sign in as the demo owner while that still works."""
    siaran = get_siaran()
    if siaran.settings.env != "demo":
        return None
    try:  # the demo generator owns the demo profiles and their password
        from sql.demo_data import DEMO_PASSWORD, DEMO_PROFILES
    except ImportError:
        return None
    owners = [p.email for p in DEMO_PROFILES if p.role == Role.OWNER.value]
    with siaran.uow.session() as session:
        profile = session.scalar(
            select(Profile)
            .where(Profile.email.in_(owners), Profile.role == Role.OWNER.value, Profile.is_active)
            .order_by(Profile.email)
            .limit(1)
        )
        # Never advertise a password the owner has since changed.
        if profile is None or not verify_password(profile.password_hash, DEMO_PASSWORD):
            return None
        return f"Demo: sign in as **{profile.email}** with password **{DEMO_PASSWORD}**."


def _active_actor(profile_id: uuid.UUID) -> Actor | None:
    with get_siaran().uow.session() as session:
        profile = session.get(Profile, profile_id)
        if profile is None or not profile.is_active:
            return None
        return actor_of(profile)
