"""The warehouse assets, their checks and the freshness sensor, on each engine."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import update

from assets.warehouse import WAREHOUSE_ASSETS, WAREHOUSE_CHECKS
from core.analytics.warehouse import Warehouse, scalar
from core.bootstrap import Siaran
from pipelines.definitions import defs
from pipelines.resources import SiaranResource, WarehouseResource
from pipelines.warehouse import JOB_NAME, warehouse_freshness_sensor
from sql.schema import CampaignMessage
from tests.core.analytics import scenario
from tests.core.analytics.scenario import T0


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "elsewhere" / "siaran.duckdb"


def materialize(
    dagster_env: SiaranResource, path: Path, instance: dg.DagsterInstance, **config: object
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*WAREHOUSE_ASSETS, *WAREHOUSE_CHECKS],
        resources={"siaran": dagster_env, "warehouse": WarehouseResource(path=str(path))},
        instance=instance,
        run_config={"ops": {"message_facts": {"config": config}}} if config else None,
    )


def test_materializing_the_assets_publishes_a_checked_warehouse(
    siaran: Siaran, dagster_env: SiaranResource, instance: dg.DagsterInstance,
    warehouse_path: Path,
) -> None:  # fmt: skip
    shop = scenario.build(siaran.uow)
    with siaran.uow.begin() as session:  # settled: the reconciliation compares them all
        session.execute(update(CampaignMessage).values(updated_at=T0))
    result = materialize(dagster_env, warehouse_path, instance)
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {
        "message_facts", "event_facts", "campaign_metrics", "engagement_hourly",
        "engagement_daily", "reply_latency", "analytics_warehouse",
    }  # fmt: skip
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"matches_operational_database": True, "rollups_add_up": True}
    facts = result.asset_materializations_for_node("message_facts")[0].metadata
    assert facts["messages_loaded"].value == 11 and facts["full_load"].value is True
    with Warehouse(warehouse_path).reader() as con:
        replied = scalar(
            con, "SELECT replied FROM campaign_metrics WHERE campaign_id = ?",
            [str(shop.campaign_id)],
        )  # fmt: skip
    assert replied == 3
    # Run again: incremental, nothing to rebuild.
    again = materialize(dagster_env, warehouse_path, instance)
    metadata = again.asset_materializations_for_node("message_facts")[0].metadata
    assert metadata["full_load"].value is False and metadata["campaigns_rebuilt"].value == 0
    full = materialize(dagster_env, warehouse_path, instance, full=True)
    metadata = full.asset_materializations_for_node("message_facts")[0].metadata
    assert metadata["full_load"].value is True and metadata["campaigns_rebuilt"].value == 3


def test_the_refresh_job_holds_every_warehouse_asset_and_check() -> None:
    job = defs.resolve_job_def(JOB_NAME)
    assert job.executor_def.name == "in_process"
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert "analytics_warehouse" in keys and "message_facts" in keys
    assert {key.name for key in job.asset_layer.asset_graph.asset_check_keys} >= {
        "matches_operational_database", "rollups_add_up",
    }  # fmt: skip


def tick(instance: dg.DagsterInstance, resource: SiaranResource, cursor: str | None) -> object:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"siaran": resource}
    )
    return warehouse_freshness_sensor(context)


def test_sensor_asks_for_a_refresh_when_anything_moved(
    siaran: Siaran, dagster_env: SiaranResource, instance: dg.DagsterInstance
) -> None:
    shop = scenario.build(siaran.uow)
    first = tick(instance, dagster_env, None)
    assert isinstance(first, dg.SensorResult) and len(first.run_requests or []) == 1
    cursor = first.cursor
    assert cursor is not None and json.loads(cursor)["campaign_count"] == "3"

    assert isinstance(tick(instance, dagster_env, cursor), dg.SkipReason)

    with siaran.uow.begin() as session:
        message = session.get(CampaignMessage, shop.messages["m6"])
        assert message is not None
        message.status = "delivered"
    moved = tick(instance, dagster_env, cursor)
    assert isinstance(moved, dg.SensorResult) and moved.cursor != cursor
    (request,) = moved.run_requests or []
    assert request.run_key and request.run_key != first.run_requests[0].run_key  # type: ignore[index]


def test_sensor_waits_while_a_refresh_runs(
    siaran: Siaran, dagster_env: SiaranResource, instance: dg.DagsterInstance
) -> None:
    scenario.build(siaran.uow)
    instance.create_run_for_job(
        job_def=defs.resolve_job_def(JOB_NAME), status=dg.DagsterRunStatus.STARTED
    )
    waiting = tick(instance, dagster_env, None)
    assert isinstance(waiting, dg.SkipReason) and "in progress" in (waiting.skip_message or "")


def test_sensor_on_an_empty_database_still_builds_once(
    dagster_env: SiaranResource, instance: dg.DagsterInstance
) -> None:
    first = tick(instance, dagster_env, None)
    assert isinstance(first, dg.SensorResult) and first.run_requests
    assert isinstance(tick(instance, dagster_env, first.cursor), dg.SkipReason)
