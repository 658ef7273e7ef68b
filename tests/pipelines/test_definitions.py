"""The Dagster definitions load, as `dagster dev` and `dg check defs` would load them."""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import defs


def test_definitions_load() -> None:
    repository = defs.get_repository_def()
    assert repository is not None
    assert isinstance(defs, dg.Definitions)
