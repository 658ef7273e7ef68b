"""``siaran demo seed``, run through click against the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cli.main import main
from core.segments.features import features_computed_at
from core.settings import Settings, get_settings
from sql.demo_data import DEMO_PASSWORD
from sql.schema import Contact, ContactFeature, Conversation

NOW = "2026-03-01T09:00:00+07:00"


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the command line's settings at the test database."""
    monkeypatch.setenv("DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SIARAN_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SIARAN_ENV", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def invoke(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["demo", "seed", *args], input=stdin)


def rows(engine: Engine) -> list[tuple[object, ...]]:
    with Session(engine) as s:
        return [
            tuple(r)
            for r in s.execute(
                select(Contact.name, Contact.phone, Contact.custom_fields).order_by(Contact.id)
            )
        ]


def count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_seed_prints_what_it_made_and_how_to_sign_in(cli_env: None, engine: Engine) -> None:
    result = invoke("--contacts", "120", "--seed", "5", "--now", NOW)

    assert result.exit_code == 0, result.output
    assert "Seeded 120 contacts" in result.output
    assert f'password "{DEMO_PASSWORD}"' in result.output
    for email in ("owner@demo.siaran.id", "supervisor@demo.siaran.id", "agent@demo.siaran.id"):
        assert email in result.output
    assert count(engine, Contact) == 120
    assert count(engine, Conversation) > 0
    # Segments work at once: every contact has its features, without waiting for Dagster.
    assert "Segment features computed for 120 contacts" in result.output
    assert count(engine, ContactFeature) == 120
    with engine.connect() as connection:
        assert features_computed_at(connection) is not None


def test_refuses_without_reset_and_replaces_with_it(cli_env: None, engine: Engine) -> None:
    assert invoke("--contacts", "40", "--seed", "5", "--now", NOW).exit_code == 0
    first = rows(engine)

    refused = invoke("--contacts", "40", "--seed", "6", "--now", NOW)
    assert refused.exit_code == 1
    assert "already has 40 contacts" in refused.output
    assert "--reset" in refused.output
    assert rows(engine) == first

    declined = invoke("--contacts", "40", "--reset", "--now", NOW, stdin="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert rows(engine) == first

    replaced = invoke("--contacts", "40", "--seed", "5", "--now", NOW, "--reset", "--yes")
    assert replaced.exit_code == 0, replaced.output
    assert "Reset: deleted" in replaced.output and "already existed" in replaced.output
    assert rows(engine) == first  # same seed and anchor, same customers


def test_bad_now_is_a_clear_error(cli_env: None, engine: Engine) -> None:
    result = invoke("--contacts", "5", "--now", "yesterday")
    assert result.exit_code == 1
    assert "--now 'yesterday' is not an ISO date or time" in result.output
    assert count(engine, Contact) == 0


def test_naive_now_means_utc(cli_env: None, engine: Engine) -> None:
    result = invoke("--contacts", "5", "--now", "2026-03-01T02:00:00")
    assert result.exit_code == 0, result.output
    assert "now 2026-03-01T02:00:00+00:00" in result.output


def test_refuses_in_production(
    cli_env: None, engine: Engine, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    monkeypatch.setenv("SIARAN_ENV", "production")
    monkeypatch.setenv("SIARAN_SECRET_KEY", "x" * 43 + "=")
    get_settings.cache_clear()
    result = invoke("--contacts", "5")
    if db_url.startswith("sqlite"):  # production with SQLite is itself refused
        assert result.exit_code == 1 and "DATABASE_URL" in result.output
    else:
        assert result.exit_code == 1 and "SIARAN_ENV=production" in result.output
    assert count(engine, Contact) == 0
