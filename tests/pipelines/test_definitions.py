"""The Dagster definitions load, as `dagster dev` and `dg check defs` would load them."""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import defs


def test_definitions_load() -> None:
    repository = defs.get_repository_def()
    assert repository is not None
    assert isinstance(defs, dg.Definitions)


def test_every_job_runs_its_ops_in_the_runs_own_process() -> None:
    """A step process more would import the code location again before any work starts."""
    jobs = defs.resolve_all_job_defs()  # with the UI's materializations (``__ASSET_JOB``)
    assert {job.name for job in jobs} >= {"send_campaign", "warehouse_refresh", "__ASSET_JOB"}
    for job in jobs:
        assert job.executor_def.name == dg.in_process_executor.name, job.name
