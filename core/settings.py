"""Siaran's configuration: one pydantic-settings class read from the environment.

The embedded default (SQLite under the data folder, the WhatsApp sandbox, a secrets key
generated on first start) needs nothing set. Production sets ``SIARAN_ENV=production``,
a PostgreSQL ``DATABASE_URL`` and a real secrets key; unsafe defaults are refused there.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OPT_OUT_KEYWORDS = (
    "STOP", "STOP PROMOSI", "STOP PROMOTIONS", "BERHENTI", "BERHENTI BERLANGGANAN",
    "UNSUBSCRIBE", "UNSUB", "OPT OUT", "JANGAN KIRIM", "STOP ALL",
)  # fmt: skip
DEFAULT_OPT_IN_KEYWORDS = ("START", "MULAI", "SUBSCRIBE", "BERLANGGANAN", "OPT IN", "UNSTOP")
#: The shortest ``sender_park_seconds`` (other than 0): well over the campaign sensor's tick.
MIN_PARK_SECONDS = 60.0


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
    # The Dagster webserver "Send now" submits runs to; unset: http://{api_host}:{dagster_port}
    # when DAGSTER_HOME is set, else campaigns are sent from the asking process (core.sending).
    dagster_url: str | None = None
    sandbox_port: int = Field(default=8900, ge=1, le=65535)
    demo_contacts: int = Field(default=5000, ge=0)
    # Segments: when Dagster recomputes every contact's features and refreshes every dynamic
    # segment (a cron expression, UTC), and how old features may get before their asset check
    # fails (a full refresh is the only one that sees status, rating and label removals).
    segment_refresh_cron: str = "0 * * * *"
    segment_features_max_age_minutes: float = Field(default=120.0, gt=0, le=7 * 24 * 60)
    # Campaigns: skip contacts who got any broadcast this recently (0 turns it off).
    campaign_cooldown_hours: float = Field(default=24.0, ge=0, le=24 * 365)
    # Warn before launching a campaign to at least this many recipients.
    campaign_large_threshold: int = Field(default=10_000, ge=1)
    # Where replies count for a campaign message: this long after it was sent.
    reply_attribution_hours: float = Field(default=72.0, gt=0, le=24 * 90)
    # Inbound WhatsApp messages that are exactly one of these words (case, spaces and
    # punctuation ignored) opt the customer out of broadcasts, or back in. A JSON list or
    # comma-separated; quick-reply buttons count too (their text is "Stop promosi").
    opt_out_keywords: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_OPT_OUT_KEYWORDS)
    )
    opt_in_keywords: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_OPT_IN_KEYWORDS)
    )
    # Answer an opt-out or opt-in keyword with a short text (free-form is allowed: the
    # customer just wrote, so their 24-hour window is open).
    opt_out_confirmation: bool = False
    opt_out_confirmation_text: str = Field(
        default="Anda tidak akan menerima pesan promosi lagi. Balas MULAI untuk berlangganan "
        "kembali. / You will no longer receive promotions. Reply START to subscribe again.",
        min_length=1,
        max_length=1024,
    )
    opt_in_confirmation_text: str = Field(
        default="Anda berlangganan kembali. Balas BERHENTI untuk berhenti. / You are "
        "subscribed again. Reply STOP to stop.",
        min_length=1,
        max_length=1024,
    )
    # An outgoing webhook told when campaigns start and end (JSON POST); none when unset.
    notify_webhook_url: str | None = None
    notify_webhook_timeout: float = Field(default=3.0, gt=0, le=30)
    # Sender: tries per message for transient errors (the first send included).
    sender_max_attempts: int = Field(default=5, ge=1, le=50)
    # How long a message whose send may have reached WhatsApp (a crash, a timeout) waits for
    # its status webhook before it is sent again; see sender.outbox.
    sender_reconcile_grace_seconds: float = Field(default=600.0, ge=0, le=7 * 24 * 3600)
    sender_heartbeat_seconds: float = Field(default=2.0, gt=0, le=60)
    # A worker whose heartbeat is older than this is dead: its claims are released.
    sender_worker_timeout_seconds: float = Field(default=20.0, gt=0, le=3600)
    # Quality circuit breaker: pause a campaign when, within the window, at least
    # ``min_messages`` were sent and the share that failed reaches ``failure_rate``.
    sender_breaker_window_seconds: float = Field(default=300.0, gt=0, le=24 * 3600)
    sender_breaker_min_messages: int = Field(default=50, ge=1)
    sender_breaker_failure_rate: float = Field(default=0.25, gt=0, le=1)
    # A Dagster run driving one campaign ends ("waiting") when nothing is due for longer than
    # this, e.g. only 131049 retries hours ahead; the campaign sensor starts a new run when
    # one comes due. 0 never parks (the run waits, holding one of Dagster's run slots).
    sender_park_seconds: float = Field(default=300.0, ge=0, le=7 * 24 * 3600)

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

    @field_validator("sender_park_seconds")
    @classmethod
    def _park_after_a_sensor_tick(cls, value: float) -> float:
        # The campaign sensor asks for a run up to 30 s before a retry is due; a run that
        # parked sooner than that would end again at once.
        if 0 < value < MIN_PARK_SECONDS:
            raise ValueError(f"must be 0 (never park) or at least {MIN_PARK_SECONDS:g} seconds")
        return value

    @field_validator("opt_out_keywords", "opt_in_keywords", mode="before")
    @classmethod
    def _keyword_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in (p.strip() for p in text.split(",")) if part]
        return value

    @field_validator("opt_out_keywords", "opt_in_keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        cleaned = [" ".join(word.split()) for word in value if word.strip()]
        if not cleaned:
            raise ValueError("needs at least one keyword")
        too_long = [word for word in cleaned if len(word) > 100]
        if too_long:
            raise ValueError(f"keywords are at most 100 characters, got {too_long[0]!r}")
        return cleaned

    @field_validator("notify_webhook_url", "dagster_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) < 1:
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _keywords_disjoint(self) -> Settings:
        from core.keywords import normalize

        both = {normalize(w) for w in self.opt_out_keywords} & {
            normalize(w) for w in self.opt_in_keywords
        }
        if both:
            raise ValueError(f"a keyword cannot both opt out and opt in: {', '.join(sorted(both))}")
        return self

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
