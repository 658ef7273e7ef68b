"""``siaran webhooks retry`` processes the events left behind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli.main import main
from core.bootstrap import Siaran
from core.settings import Settings, get_settings
from core.webhooks import read_body
from core.webhooks.intake import store_events
from sql.schema import WebhookEvent
from sql.types import utcnow
from tests.core.webhooks.payloads import encode, envelope, status, statuses_change


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SIARAN_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SIARAN_ENV", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
def test_retry_processes_what_the_server_left_behind(siaran: Siaran) -> None:
    body = read_body(encode(envelope(statuses_change(status("wamid.1", "read", utcnow())))))
    with siaran.uow.begin() as session:
        store_events(session, [body], now=utcnow() - timedelta(minutes=10))
    result = CliRunner().invoke(main, ["webhooks", "retry"])
    assert result.exit_code == 0, result.output
    assert "1 webhook events retried: 1 processed, 0 still failing" in result.output
    with siaran.uow.session() as session:
        assert session.scalar(select(WebhookEvent.state)) == "processed"
    again = CliRunner().invoke(main, ["webhooks", "retry"])
    assert "0 webhook events retried" in again.output
