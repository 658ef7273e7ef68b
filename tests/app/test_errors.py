"""Failures reach the user as words, never as a traceback."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import MAIN, TIMEOUT, reset_caches, sign_in
from tests.conftest import TEST_PASSWORD


def _page_raising_unexpected() -> None:
    from app import ui

    with ui.friendly_errors():
        raise RuntimeError("secret internals: password=hunter2")


def _page_raising_siaran_error() -> None:
    from app import ui
    from core.errors import Conflict

    with ui.friendly_errors():
        raise Conflict("This campaign is already running.")


def test_unexpected_errors_show_a_short_message_with_an_id_that_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="siaran.app"):
        at = AppTest.from_function(_page_raising_unexpected).run()
    assert not at.exception
    message = at.error[0].value
    assert "hunter2" not in message and "RuntimeError" not in message
    error_id = re.search(r"error id ([0-9a-f]{8})", message)
    assert error_id is not None
    assert f"error id {error_id.group(1)}" in caplog.text
    assert "hunter2" in caplog.text  # the details are in the server log


def test_siaran_errors_show_their_message() -> None:
    at = AppTest.from_function(_page_raising_siaran_error).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["This campaign is already running."]


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("SIARAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SIARAN_ENV", "test")
    reset_caches()
    yield monkeypatch
    reset_caches()


def test_a_bad_database_url_is_named_on_the_sign_in_page(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("DATABASE_URL", "mysql://db.example.com/siaran")
    at = AppTest.from_file(str(MAIN), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "Siaran"
    assert "DATABASE_URL" in at.error[0].value
    at = sign_in(at, "owner@example.com", TEST_PASSWORD)
    assert not at.exception
    assert any("DATABASE_URL" in e.value for e in at.error)


def test_an_unprepared_database_says_what_to_run(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    at = AppTest.from_file(str(MAIN), default_timeout=TIMEOUT).run()
    at = sign_in(at, "owner@example.com", TEST_PASSWORD)
    assert not at.exception
    assert any("siaran db upgrade" in e.value for e in at.error)
