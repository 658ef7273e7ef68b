"""Fixtures for segment tests: a small shop's CRM, loaded on each engine with fresh features."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from core.db import make_engine
from core.segments.compiler import matching_contacts
from core.segments.features import label_masks, refresh_contact_features
from tests.conftest import ENGINES
from tests.core.segments.crm import NOW, Dataset, clear, load
from tests.core.segments.reference import evaluate


@dataclass
class Shop:
    """A loaded dataset and the way tests ask who matches."""

    engine: Engine
    data: Dataset

    def matching_ids(self, criteria: dict[str, Any], now: datetime = NOW) -> set[uuid.UUID]:
        with self.engine.connect() as connection:
            masks = label_masks(connection)
            found = set(connection.execute(matching_contacts(criteria, now, masks)).scalars())
            live = set(connection.execute(matching_contacts(criteria, now)).scalars())
        # Labels read from bits or live agree, and so does the reference evaluator.
        assert found == live, "label bits and live labels disagree"
        assert found == evaluate(self.data, criteria, now), "compiler and reference disagree"
        return found

    def members(self, criteria: dict[str, Any], now: datetime = NOW) -> set[str]:
        return self.data.names(self.matching_ids(criteria, now))

    def id(self, name: str) -> uuid.UUID:
        (found,) = self.data.ids(name)
        return found


def shop_dataset() -> Dataset:
    """Five customers covering every kind of condition (see test_compiler for the facts used)."""
    data = Dataset()
    data.add_contact(
        "ani",
        labels=["vip", "loyal"],
        fields={
            "city": "Jakarta",
            "tier": "gold",
            "total_spend": 2_500_000,
            "birthday": "1990-05-01",
            "member": True,
            "note": "Suka promo GROSIR",
        },
        conversations=[("resolved", 5, 3), ("closed", 4, 40), ("waiting", None, 200)],
        opted_out=False,
    )
    data.add_contact(
        "budi",
        labels=["reseller", "complaint"],
        fields={
            "city": "Bandung",
            "total_spend": 150_000.5,
            "birthday": "1985-12-31T10:00:00+07:00",
            "member": False,
        },
        conversations=[("closed", 1, 1)],
    )
    data.add_contact(
        "citra",
        fields={"city": "", "total_spend": "2500000", "note": "pelanggan baru"},
        opted_out=True,
    )
    data.add_contact(
        "dedi",
        labels=["vip"],
        conversations=[("incoming", None, 0.5), ("in_progress", None, 10), ("resolved", 3, 100)],
    )
    data.add_contact(
        "eka",
        labels=["promo"],
        fields={"city": "jakarta", "tier": None},
        conversations=[("resolved", None, 400)],
    )
    return data


@pytest.fixture
def shop(engine: Engine) -> Shop:
    data = shop_dataset()
    load(engine, data)
    refresh_contact_features(engine, now=NOW)
    return Shop(engine, data)


@pytest.fixture(scope="module", params=ENGINES)
def module_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """One migrated database per engine for a whole module whose tests reload what they need.

    Only for modules where no test uses the per-test ``engine`` fixture: its PostgreSQL
    teardown empties every table under this fixture's feet.
    """
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("segments") / "siaran.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database_url")
    engine = make_engine(url)
    yield engine
    with engine.begin() as connection:
        clear(connection)
    engine.dispose()


@pytest.fixture(scope="module")
def shared_shop(module_engine: Engine) -> Shop:
    """The shop loaded once per module and engine, for tests that only read it."""
    data = shop_dataset()
    load(module_engine, data)
    refresh_contact_features(module_engine, now=NOW)
    return Shop(module_engine, data)
