"""Fixtures for the Streamlit app: AppTest sessions against each engine's database.

The app reads DATABASE_URL and SIARAN_* from the environment like in production; each test
points them at its own database and clears the cached settings and composition root.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.settings import PROJECT_ROOT, get_settings
from tests.conftest import TEST_PASSWORD

MAIN = PROJECT_ROOT / "app" / "main.py"
TIMEOUT = 30


def reset_caches() -> None:
    """Forget the settings and the composition root, as a restarted server would."""
    get_settings.cache_clear()
    st.cache_resource.clear()  # disposes the app's engine (on_release)


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path) -> Iterator[str]:
    """The environment ``siaran up`` gives the app, pointed at this test's database."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SIARAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SIARAN_ENV", "test")
    reset_caches()
    yield db_url
    reset_caches()


@pytest.fixture
def new_app(app_env: str) -> Callable[[], AppTest]:
    """A fresh browser session on the app (not yet run)."""
    return lambda: AppTest.from_file(str(MAIN), default_timeout=TIMEOUT)


@pytest.fixture
def signed_in(new_app: Callable[[], AppTest]) -> Callable[[str], AppTest]:
    """A browser session signed in with the given email (the test profiles' password)."""

    def _sign_in(email: str) -> AppTest:
        at = new_app().run()
        return sign_in(at, email, TEST_PASSWORD)

    return _sign_in


def sign_in(at: AppTest, email: str, password: str) -> AppTest:
    at.text_input(key="sign_in_email").input(email)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click()
    return at.run()


def texts(at: AppTest) -> str:
    """Everything written on the page (main area and sidebar), for "is it shown?" checks."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                 "error", "success", "text"):  # fmt: skip
        parts.extend(str(element.value) for element in getattr(at, kind))
    return "\n".join(parts)
