"""Fixtures of the pipeline tests: Dagster pointed at the test database, a sandbox.

``dagster_env`` makes ``SiaranResource`` (which reads the environment, like a real Dagster
deployment) build the same settings as the test's ``siaran`` fixture: same database, same
data folder and so the same secrets key. ``instance`` is a fresh Dagster instance per test
(a shared SQLite instance reports "database is locked").
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from core.settings import Settings
from pipelines.resources import SiaranResource
from sandbox import SandboxConfig, SandboxServer


@pytest.fixture
def dagster_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> SiaranResource:
    """The resource as Dagster builds it, reading the test's database and data folder."""
    monkeypatch.setenv("SIARAN_ENV", settings.env)
    monkeypatch.setenv("SIARAN_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", settings.resolved_database_url)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("SIARAN_DAGSTER_URL", raising=False)
    return SiaranResource()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as fresh:
        yield fresh


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(latency_ms=1, latency_jitter_ms=0, enforce_service_window=False)
    with SandboxServer(config) as server:
        yield server
