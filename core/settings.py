"""Siaran's configuration: one pydantic-settings class read from the environment.

The embedded default (SQLite under the data folder, the WhatsApp sandbox, a secrets key
generated on first start) needs nothing set. Production sets ``SIARAN_ENV=production``,
a PostgreSQL ``DATABASE_URL`` and a real secrets key; unsafe defaults are refused there.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigurationError(RuntimeError):
    """Raised when the environment holds a value Siaran cannot run with."""


class Settings(BaseSettings):
    """Everything Siaran reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="SIARAN_", extra="ignore")

    env: Literal["demo", "development", "test", "production"] = "demo"
    data_dir: Path = Field(default=PROJECT_ROOT / "data")
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    dagster_home: Path | None = Field(default=None, validation_alias="DAGSTER_HOME")
    # A urlsafe base64 Fernet key, or a file holding one. Demo mode generates the file.
    secret_key: str | None = None
    secret_key_file: Path | None = None
    default_region: str = "ID"
    token_ttl_days: int = Field(default=30, ge=1, le=3650)
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8800, ge=1, le=65535)
    app_port: int = Field(default=8501, ge=1, le=65535)
    dagster_port: int = Field(default=3000, ge=1, le=65535)
    sandbox_port: int = Field(default=8900, ge=1, le=65535)
    demo_contacts: int = Field(default=5000, ge=0)

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value.startswith("postgres://") or value.startswith("postgresql://"):
            # SQLAlchemy needs the driver named; psycopg 3 is the one we ship.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        if not (value.startswith("sqlite") or value.startswith("postgresql+psycopg://")):
            raise ValueError(
                "must be a sqlite:/// path or a postgresql+psycopg:// URL, got "
                f"{value.split('://', 1)[0]!r}"
            )
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "production":
            if self.database_url is None or self.database_url.startswith("sqlite"):
                raise ValueError("DATABASE_URL must point at PostgreSQL when SIARAN_ENV=production")
            if self.secret_key is None and self.secret_key_file is None:
                raise ValueError(
                    "SIARAN_SECRET_KEY or SIARAN_SECRET_KEY_FILE must be set when "
                    "SIARAN_ENV=production (secrets at rest are encrypted with it)"
                )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'siaran.db').resolve()}"

    @property
    def resolved_dagster_home(self) -> Path:
        return (self.dagster_home or self.data_dir / "dagster").resolve()

    @property
    def resolved_secret_key_file(self) -> Path:
        return (self.secret_key_file or self.data_dir / "secret.key").resolve()

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read settings, turning validation errors into one message naming the variable."""
    saved = None
    if environ is not None:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(environ)
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "configuration"
            variable = _variable_name(field)
            problems.append(f"{variable}: {error['msg']}")
        raise ConfigurationError("Bad configuration: " + "; ".join(problems)) from None
    finally:
        if saved is not None:
            os.environ.clear()
            os.environ.update(saved)


def _variable_name(field: str) -> str:
    aliases = {"database_url": "DATABASE_URL", "dagster_home": "DAGSTER_HOME"}
    return aliases.get(field.lower(), f"SIARAN_{field.upper()}")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
