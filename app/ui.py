"""The app's shared layout: page headers, empty states, phones, times and friendly errors.

Every page renders through these helpers so the app looks and fails the same way
everywhere: a ``SiaranError`` becomes its message, anything unexpected a short note with
an error id that is also in the server log, and never a traceback.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st
from sqlalchemy.exc import DBAPIError

from core.errors import SiaranError
from core.permissions import Actor, Permission
from core.phones import mask_phone
from core.settings import ConfigurationError

log = logging.getLogger("siaran.app")


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Show what went wrong in words; Streamlit's own control flow (rerun, stop) passes.

    ``app/main.py`` runs every page inside this. A ``st.fragment`` reruns on its own,
    outside the page, so wrap a fragment's body in it too.
    """
    try:
        yield
    except SiaranError as exc:
        st.error(exc.message, icon=":material/block:")
    except ConfigurationError as exc:
        st.error(str(exc), icon=":material/settings:")
    except DBAPIError:
        error_id = _log_unexpected()
        st.error(
            "Siaran could not use its database. Check that DATABASE_URL points at a running "
            f"database prepared with `siaran db upgrade`. (error id {error_id})",
            icon=":material/database:",
        )
    except Exception:
        error_id = _log_unexpected()
        st.error(
            "Something went wrong on our side and nothing was changed by it. Try again; if "
            f"it keeps happening, give your administrator the error id {error_id}.",
            icon=":material/error:",
        )


def _log_unexpected() -> str:
    error_id = uuid.uuid4().hex[:8]
    log.exception("Unexpected error in the app (error id %s)", error_id)
    return error_id


def page_header(title: str, caption: str | None = None) -> None:
    st.title(title)
    if caption:
        st.caption(caption)


def empty_state(message: str, hint: str | None = None) -> None:
    """A calm note where data would be, saying what to do to fill it."""
    st.info(message + (f"\n\n{hint}" if hint else ""), icon=":material/inbox:")


def phone(actor: Actor, e164: str | None) -> str:
    """A phone number as this actor may see it: in full only with ``phone:unmasked``."""
    if actor.can(Permission.PHONE_UNMASKED):
        return e164 or ""
    return mask_phone(e164)


def local_time(moment: datetime | None) -> str:
    """``moment`` in the browser's timezone (UTC when unknown), to the minute."""
    if moment is None:
        return ""
    zone = _browser_zone()
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M ") + _zone_label(zone)


def _browser_zone() -> ZoneInfo:
    name = st.context.timezone
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def _zone_label(zone: ZoneInfo) -> str:
    return "UTC" if zone.key == "UTC" else zone.key


def cell(value: Any) -> Any:
    """A value a table column can hold: scalars as they are, structures as compact JSON."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def sidebar_account(actor: Actor, on_sign_out: Any) -> None:
    """Who is signed in, in which role, and the way out."""
    with st.sidebar:
        st.markdown(f"**{actor.full_name or actor.email}**")
        st.caption(f"{actor.email} · {actor.role.value.title()}")
        st.button(
            "Sign out",
            key="sign_out",
            icon=":material/logout:",
            on_click=on_sign_out,
            width="stretch",
        )
