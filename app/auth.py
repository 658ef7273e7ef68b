"""Who is signed in to the Streamlit app, and the composition root every session shares.

Signing in issues a session token (an API token named "app session", stored only hashed)
that a cookie keeps, so reloading the page or opening a link in a new tab stays signed in
until the user signs out or the session expires. The signed-in actor lives in the browser
session's ``st.session_state``; its token is checked and its profile re-read on every run,
so signing out elsewhere, a deactivated profile or a changed role takes effect at once.
Only the composition root (engine, settings) is cached across sessions: role-filtered data
never is.
"""

from __future__ import annotations

import json

import streamlit as st
from sqlalchemy import select

from core.bootstrap import Siaran, bootstrap
from core.errors import AuthenticationFailed, SiaranError, TokenEnded
from core.permissions import Actor, Role
from core.profiles import actor_for_app_session, actor_of, revoke_token
from core.security import verify_password
from core.sign_ins import sign_in_limited
from sql.schema import Profile

ACTOR_KEY = "siaran_actor"
NOTICE_KEY = "siaran_notice"
TOKEN_KEY = "siaran_session_token"
COOKIE_SCRIPT_KEY = "siaran_cookie_script"
SETTLED_COOKIE_KEY = "siaran_settled_cookie"
SESSION_COOKIE = "siaran_session"
SESSION_DAYS = 7
SESSION_TOKEN_NAME = "app session"


def _release(siaran: Siaran) -> None:
    siaran.engine.dispose()


@st.cache_resource(show_spinner=False, on_release=_release)
def get_siaran() -> Siaran:
    """The composition root, built once per server process from the environment."""
    return bootstrap()


def sign_in(email: str, password: str) -> Actor:
    """Check the credentials, remember the actor in this browser session and in a cookie."""
    if not email.strip() or not password:
        raise AuthenticationFailed("Enter your email and password.")
    signed_in = sign_in_limited(
        get_siaran().uow,
        email,
        password,
        ttl_days=SESSION_DAYS,
        token_name=SESSION_TOKEN_NAME,
        via="app",
    )
    actor = actor_of(signed_in.profile)
    st.session_state.clear()
    _remember(actor, signed_in.token)
    st.session_state[COOKIE_SCRIPT_KEY] = _cookie_script(signed_in.token, SESSION_DAYS * 86_400)
    return actor


def sign_out(notice: str | None = None) -> None:
    """End the session everywhere and forget what this browser session held."""
    actor: Actor | None = st.session_state.get(ACTOR_KEY)
    token: str | None = st.session_state.get(TOKEN_KEY)
    if actor is not None and token is not None:
        try:
            with get_siaran().uow.begin() as session:
                revoke_token(session, actor, token)
        except SiaranError:
            pass  # the profile is gone: the session has ended anyway
    _forget(notice)
    st.session_state[COOKIE_SCRIPT_KEY] = _cookie_script("", 0)


def current_actor() -> Actor | None:
    """The signed-in actor as the database sees it now, or None (signed out if it ended)."""
    token: str | None = st.session_state.get(TOKEN_KEY)
    if token is None:
        return _resume_from_cookie()
    try:
        with get_siaran().uow.session() as session:
            fresh = actor_for_app_session(session, token)
    except AuthenticationFailed as exc:
        _forget(exc.message)  # signed out elsewhere, expired or deactivated
        return None
    st.session_state[ACTOR_KEY] = fresh
    return fresh


def write_session_cookie() -> None:
    """Set or clear the session cookie in the browser when signing in or out asked for it."""
    script = st.session_state.pop(COOKIE_SCRIPT_KEY, None)
    if script:
        # Hidden, so the page's layout does not move; the script runs all the same.
        hide = (
            "<style>[data-testid=stLayoutWrapper]:has(> .st-key-"
            f"{COOKIE_SCRIPT_KEY}) {{display: none}}</style>"
        )
        with st.container(key=COOKIE_SCRIPT_KEY):
            st.html(hide + script, unsafe_allow_javascript=True)


def _forget(notice: str | None) -> None:
    """Forget this browser session's state, keeping only why (``notice``).

    The cookie stays: another tab may have signed in since and set a new one.
    """
    st.session_state.clear()
    # The browser sent its cookie when this connection opened; never resume from it again.
    st.session_state[SETTLED_COOKIE_KEY] = _cookie_token()
    if notice:
        st.session_state[NOTICE_KEY] = notice


def _remember(actor: Actor, token: str) -> None:
    st.session_state[ACTOR_KEY] = actor
    st.session_state[TOKEN_KEY] = token


def _resume_from_cookie() -> Actor | None:
    token = _cookie_token()
    if not token or token == st.session_state.get(SETTLED_COOKIE_KEY):
        return None
    st.session_state[SETTLED_COOKIE_KEY] = token
    try:
        with get_siaran().uow.session() as session:
            actor = actor_for_app_session(session, token)
    except AuthenticationFailed as exc:
        # After signing out (perhaps in another tab) the sign-in form says enough.
        _forget(None if isinstance(exc, TokenEnded) else exc.message)
        return None
    _remember(actor, token)
    return actor


def _cookie_token() -> str | None:
    value = st.context.cookies.get(SESSION_COOKIE)
    return value if isinstance(value, str) else None  # outside a browser there is none


def _cookie_script(token: str, max_age: int) -> str:
    """JavaScript that sets the session cookie (an empty token and age 0 clear it)."""
    cookie = json.dumps(f"{SESSION_COOKIE}={token}; Max-Age={max_age}; Path=/; SameSite=Strict")
    return (
        "<script>document.cookie = "
        f"{cookie} + (window.location.protocol === 'https:' ? '; Secure' : '');</script>"
    )


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
