"""The segment assets through ``materialize``, their checks, the jobs and the schedule."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest
from sqlalchemy import delete

from assets.segments import SEGMENT_ASSETS, SEGMENT_CHECKS
from core.bootstrap import Siaran
from core.segments import refresh_contact_features
from core.settings import ConfigurationError
from pipelines import segments as pipeline
from pipelines.definitions import defs
from pipelines.resources import SiaranResource
from sql.schema import Contact
from sql.types import utcnow
from tests.pipelines.segment_rig import (
    LONG_AGO,
    customer,
    open_shop,
    segment_row,
    stored_members,
)


def materialize(
    instance: dg.DagsterInstance,
    resource: SiaranResource,
    selection: str | dg.AssetSelection,
    *,
    partition_key: str | None = None,
    run_config: dict[str, object] | None = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*SEGMENT_ASSETS, *SEGMENT_CHECKS],
        selection=[selection] if isinstance(selection, str) else selection,
        partition_key=partition_key,
        instance=instance,
        resources={"siaran": resource},
        run_config=run_config,
        raise_on_error=False,
    )


def metadata_of(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (event,) = result.get_asset_materialization_events()
    materialization = event.step_materialization_data.materialization
    return {key: value.value for key, value in materialization.metadata.items()}


def check_of(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_definitions_load_with_the_segment_jobs_sensor_and_schedule() -> None:
    repository = defs.get_repository_def()
    assert {"contact_features_job", "segment_snapshots_job"} <= set(repository.job_names)
    assert repository.get_sensor_def("segment_partitions_sensor")
    schedule = repository.get_schedule_def("segment_refresh_schedule")
    assert schedule.cron_schedule == "0 * * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.execution_timezone == "UTC"
    assert defs.resolve_job_def("contact_features_job").asset_layer.asset_graph.asset_check_keys
    partitions = defs.resolve_job_def("segment_snapshots_job").partitions_def
    assert isinstance(partitions, dg.DynamicPartitionsDefinition)
    assert partitions.name == "segments"


def test_the_refresh_cron_comes_from_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIARAN_SEGMENT_REFRESH_CRON", "*/15 * * * *")
    assert pipeline._refresh_schedule().cron_schedule == "*/15 * * * *"
    monkeypatch.setenv("SIARAN_SEGMENT_REFRESH_CRON", "every hour")
    with pytest.raises(ConfigurationError, match="SIARAN_SEGMENT_REFRESH_CRON"):
        pipeline._refresh_schedule()


def two_old_customers(siaran: Siaran) -> None:
    with siaran.uow.begin() as session:
        customer(session, "Ani", "+6281200000001", labels=["vip"], at=utcnow() - LONG_AGO)
        customer(session, "Budi", "+6281200000002", at=utcnow() - LONG_AGO)


def test_contact_features_first_full_then_only_what_changed(
    siaran: Siaran, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    two_old_customers(siaran)

    first = materialize(instance, dagster_env, "contact_features")
    assert first.success
    assert metadata_of(first)["scope"] == "all contacts"
    assert metadata_of(first)["rows_written"] == 2
    assert check_of(first).passed

    with siaran.uow.begin() as session:
        customer(session, "Citra", "+6281200000003", labels=["vip"])
    second = materialize(instance, dagster_env, "contact_features")
    found = metadata_of(second)
    assert str(found["scope"]).startswith("contacts changed since")
    assert found["rows_written"] == 1  # Citra; Ani and Budi changed days ago
    assert found["dagster/row_count"] == 3

    full = materialize(
        instance,
        dagster_env,
        "contact_features",
        run_config=pipeline.features_run_config(True),
    )
    assert metadata_of(full)["scope"] == "all contacts"
    assert metadata_of(full)["dagster/row_count"] == 3


def test_features_freshness_check_fails_past_its_bound(
    siaran: Siaran, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    two_old_customers(siaran)
    refresh_contact_features(siaran.engine, now=utcnow() - timedelta(hours=3))

    only_the_check = dg.AssetSelection.checks(*SEGMENT_CHECKS)
    result = materialize(instance, dagster_env, only_the_check)

    evaluation = check_of(result)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["bound_minutes"].value == 120
    assert evaluation.metadata["age_minutes"].value >= 180


def test_a_snapshot_partition_records_who_entered(
    siaran: Siaran, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    shop = open_shop(siaran)
    before = segment_row(siaran, shop.vip)
    with siaran.uow.begin() as session:
        citra = customer(session, "Citra", "+6281200000003", labels=["vip"])
    refresh_contact_features(siaran.engine, [citra])
    instance.add_dynamic_partitions("segments", [str(shop.vip)])

    result = materialize(instance, dagster_env, "segment_snapshots", partition_key=str(shop.vip))

    assert result.success
    found = metadata_of(result)
    assert (found["members"], found["entered"], found["left"], found["reachable"]) == (2, 1, 0, 2)
    assert (found["segment"], found["kind"], found["frozen"]) == ("VIP", "dynamic", False)
    assert check_of(result).passed
    after = segment_row(siaran, shop.vip)
    assert after.contact_count == 2 and after.reachable_count == 2
    assert before.last_refreshed_at is not None and after.last_refreshed_at is not None
    assert after.last_refreshed_at > before.last_refreshed_at
    assert stored_members(siaran, shop.vip) == {shop.ani, citra}


def test_the_snapshot_check_catches_a_count_that_drifted(
    siaran: Siaran, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    shop = open_shop(siaran)
    with siaran.uow.begin() as session:  # a deleted contact leaves the frozen segment's rows
        session.execute(delete(Contact).where(Contact.id == shop.budi))
    instance.add_dynamic_partitions("segments", [str(shop.everyone)])

    result = materialize(
        instance, dagster_env, "segment_snapshots", partition_key=str(shop.everyone)
    )

    assert result.success
    assert metadata_of(result)["frozen"] is True
    evaluation = check_of(result)
    assert not evaluation.passed
    assert evaluation.metadata["recorded_members"].value == 2
    assert evaluation.metadata["stored_rows"].value == 1


def test_a_deleted_segments_partition_fails_clearly(
    siaran: Siaran, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    gone = "00000000-0000-0000-0000-0000000000ff"
    instance.add_dynamic_partitions("segments", [gone])

    result = materialize(instance, dagster_env, "segment_snapshots", partition_key=gone)

    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "was deleted" in str(failure.step_failure_data.user_failure_data.description)
