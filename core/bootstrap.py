"""The composition root: settings, engine, unit of work and secret box, wired once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine

from core.db import UnitOfWork, make_engine
from core.security import SecretBox
from core.settings import Settings, get_settings


@dataclass
class Siaran:
    """What every entry point needs to call the core."""

    settings: Settings
    engine: Engine

    @cached_property
    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    @cached_property
    def secrets(self) -> SecretBox:
        return SecretBox.from_settings(self.settings)


def bootstrap(settings: Settings | None = None, engine: Engine | None = None) -> Siaran:
    settings = settings or get_settings()
    return Siaran(settings=settings, engine=engine or make_engine(settings.resolved_database_url))
