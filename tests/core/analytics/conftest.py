"""Fixtures for analytics tests: the hand-computed scenario and a warehouse in a temp folder."""

from __future__ import annotations

import pytest

from core.analytics.warehouse import Warehouse
from core.bootstrap import Siaran
from core.db import UnitOfWork
from tests.core.analytics import scenario


@pytest.fixture
def shop(uow: UnitOfWork) -> scenario.Scenario:
    return scenario.build(uow)


@pytest.fixture
def warehouse(siaran: Siaran) -> Warehouse:
    """The warehouse under this test's data folder (nothing published yet)."""
    return Warehouse.for_settings(siaran.settings)
