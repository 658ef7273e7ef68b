"""The segment sensor, one test per case, each with its own ephemeral instance and cursor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import dagster as dg
import pytest
from sqlalchemy import delete, update

from assets.segments import FEATURES_KEY, SEGMENT_ASSETS
from core.bootstrap import Siaran
from core.permissions import SYSTEM_ACTOR
from core.segments import delete_segment
from pipelines import segments as sensor_module
from pipelines.definitions import defs
from pipelines.resources import SiaranResource
from pipelines.segments import INTERVAL_SECONDS, Cursor, segment_partitions_sensor
from sql.schema import Contact, ContactFeature, ContactLabel, ContactPreference
from sql.types import utcnow
from tests.pipelines.segment_rig import (
    Shop,
    apply_partitions,
    customer,
    open_shop,
    snapshot_requests,
    stored_members,
    tick,
)


@pytest.fixture
def ephemeral() -> Iterator[dg.DagsterInstance]:
    instance = dg.DagsterInstance.ephemeral()
    yield instance
    instance.dispose()


@pytest.fixture
def shop(siaran: Siaran) -> Shop:
    return open_shop(siaran)


def settled(instance: dg.DagsterInstance, resource: SiaranResource, shop: Shop) -> dg.SensorResult:
    """A first tick whose partitions exist afterwards, as after the daemon applied them."""
    first = tick(instance, resource, None)
    apply_partitions(instance, first)
    assert set(instance.get_dynamic_partitions("segments")) == {str(shop.vip), str(shop.everyone)}
    return first


def test_the_sensor_is_on_by_default_and_ticks_often_enough() -> None:
    assert segment_partitions_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert segment_partitions_sensor.minimum_interval_seconds == INTERVAL_SECONDS <= 30


def test_new_segments_get_a_partition_and_a_run(
    shop: Shop, ephemeral: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    result = tick(ephemeral, dagster_env, None)

    (add,) = result.dynamic_partitions_requests or []
    assert isinstance(add, dg.AddDynamicPartitionsRequest)
    assert (add.partitions_def_name, set(add.partition_keys)) == (
        "segments",
        {str(shop.vip), str(shop.everyone)},
    )
    assert snapshot_requests(result) == {
        str(shop.vip): "new_segment",
        str(shop.everyone): "new_segment",
    }
    cursor = json.loads(result.cursor or "{}")
    assert cursor["since"] is not None and result.skip_reason is None


def test_a_deleted_segment_loses_its_partition(
    siaran: Siaran, shop: Shop, ephemeral: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    first = settled(ephemeral, dagster_env, shop)
    with siaran.uow.begin() as session:
        delete_segment(session, SYSTEM_ACTOR, shop.vip)

    result = tick(ephemeral, dagster_env, first.cursor)

    (removal,) = result.dynamic_partitions_requests or []
    assert isinstance(removal, dg.DeleteDynamicPartitionsRequest)
    assert list(removal.partition_keys) == [str(shop.vip)]
    assert snapshot_requests(result) == {}


def test_a_new_matching_contact_is_refreshed_and_its_segment_asked_for(
    siaran: Siaran, shop: Shop, ephemeral: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    first = settled(ephemeral, dagster_env, shop)
    with siaran.uow.begin() as session:
        citra = customer(session, "Citra", "+6281200000003", labels=["vip"])
        customer(session, "Dedi", "+6281200000004")  # matches no dynamic segment

    result = tick(ephemeral, dagster_env, first.cursor)

    assert snapshot_requests(result) == {str(shop.vip): "crm_change"}  # not the static one
    (event,) = result.asset_events
    assert isinstance(event, dg.AssetMaterialization) and event.asset_key == FEATURES_KEY
    assert event.metadata["rows_written"] == dg.IntMetadataValue(2)
    with siaran.uow.session() as session:
        assert session.get(ContactFeature, citra) is not None  # features written in the tick
    assert citra not in stored_members(siaran, shop.vip)  # the run adds it, not the sensor

    # The requested run makes Citra a member.
    request = next(r for r in result.run_requests or [] if r.partition_key == str(shop.vip))
    materialized = dg.materialize(
        SEGMENT_ASSETS,
        selection=["segment_snapshots"],
        partition_key=request.partition_key,
        instance=ephemeral,
        resources={"siaran": dagster_env},
    )
    assert materialized.success
    assert citra in stored_members(siaran, shop.vip)


def test_nothing_changed_skips(
    shop: Shop, ephemeral: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    first = settled(ephemeral, dagster_env, shop)

    result = tick(ephemeral, dagster_env, first.cursor)

    assert result.run_requests == []
    assert result.dynamic_partitions_requests == []
    assert result.asset_events == []
    assert result.skip_reason is not None


def test_a_run_waiting_in_the_queue_gets_no_twin(
    siaran: Siaran, shop: Shop, ephemeral: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    first = settled(ephemeral, dagster_env, shop)
    ephemeral.create_run_for_job(
        job_def=defs.resolve_job_def("segment_snapshots_job"),
        tags={"dagster/partition": str(shop.vip)},
        status=dg.DagsterRunStatus.NOT_STARTED,
    )
    with siaran.uow.begin() as session:
        customer(session, "Citra", "+6281200000003", labels=["vip"])

    result = tick(ephemeral, dagster_env, first.cursor)

    assert snapshot_requests(result) == {}


def test_opt_outs_refresh_the_segments_holding_the_contact(
    siaran: Siaran, shop: Shop, ephemeral: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    first = settled(ephemeral, dagster_env, shop)
    with siaran.uow.begin() as session:
        session.add(ContactPreference(contact_id=shop.budi, opted_out=True, opted_out_at=utcnow()))

    result = tick(ephemeral, dagster_env, first.cursor)

    assert snapshot_requests(result) == {str(shop.everyone): "opt_out"}  # Budi is not a VIP


def test_a_features_run_makes_every_dynamic_segment_follow(
    shop: Shop, ephemeral: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    first = settled(ephemeral, dagster_env, shop)
    # What the daemon stores of the sensor's own report is not acted on again ...
    ephemeral.report_runless_asset_event(dg.AssetMaterialization(FEATURES_KEY))
    second = tick(ephemeral, dagster_env, first.cursor)
    assert snapshot_requests(second) == {}
    # ... but a run's materialization (the schedule's full refresh) is.
    ran = dg.materialize(
        SEGMENT_ASSETS,
        selection=["contact_features"],
        instance=ephemeral,
        resources={"siaran": dagster_env},
    )
    assert ran.success

    result = tick(ephemeral, dagster_env, second.cursor)

    assert snapshot_requests(result) == {str(shop.vip): "features_refreshed"}
    seen = Cursor.parse(result.cursor).features_seen
    assert snapshot_requests(tick(ephemeral, dagster_env, result.cursor)) == {}
    assert Cursor.parse(result.cursor).features_seen == seen


def test_many_changes_become_one_features_run(
    siaran: Siaran,
    shop: Shop,
    ephemeral: dg.DagsterInstance,
    dagster_env: SiaranResource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = settled(ephemeral, dagster_env, shop)
    monkeypatch.setattr(sensor_module, "SENSOR_REFRESH_LIMIT", 2)
    with siaran.uow.begin() as session:
        for i in range(3):
            customer(session, f"New {i}", f"+628130000000{i}", labels=["vip"])

    result = tick(ephemeral, dagster_env, first.cursor)

    (request,) = result.run_requests or []
    assert request.job_name == "contact_features_job"
    assert request.run_config == {"ops": {"contact_features": {"config": {"full": False}}}}
    assert result.asset_events == []  # nothing refreshed in the tick itself


def test_without_any_features_a_full_run_comes_first(
    siaran: Siaran, ephemeral: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    old = utcnow() - timedelta(days=1)
    with siaran.uow.begin() as session:
        customer(session, "Ani", "+6281200000001", at=old)

    result = tick(ephemeral, dagster_env, None)

    (request,) = result.run_requests or []
    assert request.job_name == "contact_features_job"
    assert request.run_config == {"ops": {"contact_features": {"config": {"full": True}}}}


def test_an_unreadable_cursor_starts_afresh() -> None:
    assert Cursor.parse("not json") == Cursor()
    assert Cursor.parse(None) == Cursor()
    now = utcnow()
    assert Cursor.parse(Cursor(now, 7).dump()) == Cursor(now, 7)


def test_an_edited_contact_that_no_longer_matches_is_asked_to_leave(
    siaran: Siaran, shop: Shop, ephemeral: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    first = settled(ephemeral, dagster_env, shop)
    with siaran.uow.begin() as session:  # the CRM removes Ani's label and saves her contact
        session.execute(delete(ContactLabel).where(ContactLabel.contact_id == shop.ani))
        session.execute(update(Contact).where(Contact.id == shop.ani).values(updated_at=utcnow()))

    result = tick(ephemeral, dagster_env, first.cursor)

    assert snapshot_requests(result) == {str(shop.vip): "crm_change"}
