"""Configuration: defaults that need nothing, and bad values that fail fast by name."""

from __future__ import annotations

import pytest

from core.settings import ConfigurationError, load_settings


def test_embedded_default_needs_nothing(tmp_path) -> None:
    settings = load_settings({"SIARAN_DATA_DIR": str(tmp_path)})
    assert settings.is_sqlite
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/siaran.db"
    assert settings.resolved_dagster_home == (tmp_path / "dagster").resolve()


def test_postgres_url_gets_the_driver_named() -> None:
    settings = load_settings({"DATABASE_URL": "postgresql://u@db:5432/siaran"})
    assert settings.resolved_database_url == "postgresql+psycopg://u@db:5432/siaran"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"SIARAN_API_PORT": "not-a-port"}, "SIARAN_API_PORT"),
        ({"SIARAN_ENV": "staging"}, "SIARAN_ENV"),
        ({"SIARAN_SENDER_PARK_SECONDS": "10"}, "SIARAN_SENDER_PARK_SECONDS"),
        ({"SIARAN_ENV": "production"}, "DATABASE_URL must point at PostgreSQL"),
        (
            {"SIARAN_ENV": "production", "DATABASE_URL": "postgresql://u@h/d"},
            "SIARAN_SECRET_KEY",
        ),
    ],
)
def test_bad_configuration_names_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        load_settings(environ)
