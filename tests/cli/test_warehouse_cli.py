"""``siaran warehouse refresh | status | check`` against each engine."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from cli.main import main
from core.bootstrap import Siaran
from core.settings import get_settings
from sql.schema import CampaignMessage
from tests.core.analytics import scenario
from tests.core.analytics.scenario import T0


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, siaran: Siaran) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", siaran.settings.resolved_database_url)
    monkeypatch.setenv("SIARAN_DATA_DIR", str(siaran.settings.data_dir))
    monkeypatch.setenv("SIARAN_ENV", "test")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_refresh_status_and_check(cli_env: CliRunner, siaran: Siaran) -> None:
    missing = cli_env.invoke(main, ["warehouse", "status"])
    assert missing.exit_code == 1 and "siaran warehouse refresh" in missing.output
    scenario.build(siaran.uow)
    with siaran.uow.begin() as session:
        session.execute(update(CampaignMessage).values(updated_at=T0))
    done = cli_env.invoke(main, ["warehouse", "refresh"])
    assert done.exit_code == 0, done.output
    assert "Full load: 11 messages" in done.output and "3 campaigns rebuilt" in done.output
    status = cli_env.invoke(main, ["warehouse", "status"])
    assert status.exit_code == 0 and "messages           11" in status.output
    check = cli_env.invoke(main, ["warehouse", "check"])
    assert check.exit_code == 0, check.output
    assert "ok     matches the operational database (2 campaigns)" in check.output
    with siaran.uow.begin() as session:  # a change the incremental load cannot see
        session.execute(
            update(CampaignMessage)
            .where(CampaignMessage.status == "sent")
            .values(status="failed", updated_at=T0)
        )
    failed = cli_env.invoke(main, ["warehouse", "check"])
    assert failed.exit_code == 1 and "FAILED matches the operational database" in failed.output
    assert cli_env.invoke(main, ["warehouse", "refresh", "--full"]).exit_code == 0
    assert cli_env.invoke(main, ["warehouse", "check"]).exit_code == 0
