"""Dagster resources: Siaran's core, wired from the same settings as every other entry point."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from core.analytics.warehouse import Warehouse
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


class WarehouseResource(dg.ConfigurableResource):
    """The analytics warehouse (``core.analytics.warehouse``).

    ``path`` is the published DuckDB file; by default ``data/warehouse/siaran.duckdb`` under
    ``SIARAN_DATA_DIR``. Tests point it at a temporary folder.
    """

    path: str | None = None

    def get(self) -> Warehouse:
        if self.path:
            return Warehouse(Path(self.path))
        return Warehouse.for_settings(load_settings())
