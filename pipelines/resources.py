"""Dagster resources: Siaran's core, wired from the same settings as every other entry point."""

from __future__ import annotations

import dagster as dg

from core.bootstrap import Siaran, bootstrap
from core.settings import load_settings


class SiaranResource(dg.ConfigurableResource):
    """Gives ops and assets the composition root (engine, unit of work, secrets).

    ``database_url`` overrides ``DATABASE_URL`` (tests point it at their own database).
    """

    database_url: str | None = None

    def build(self) -> Siaran:
        settings = load_settings()
        if self.database_url:
            settings = settings.model_copy(update={"database_url": self.database_url})
        return bootstrap(settings)
