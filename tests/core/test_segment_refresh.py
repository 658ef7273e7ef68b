"""``core.segment_refresh``: "Refresh" through Dagster or here, and the checked snapshot.

The Dagster path is tested against a real Dagster webserver over the project's definitions
(its ASGI app in process, served by uvicorn on a free port) with a queued-run instance, so
the partition it adds and the run it queues are inspected.
"""

from __future__ import annotations

import logging
import socket
from datetime import timedelta

import dagster as dg
import pytest
from sqlalchemy import Engine, select

from core.bootstrap import Siaran
from core.errors import NotFound, PermissionDenied
from core.permissions import Actor
from core.segment_refresh import (
    OVERLAP,
    checked_snapshot,
    refresh_stale_features,
    request_segment_refresh,
)
from core.segments import features_computed_at, refresh_contact_features
from core.settings import Settings
from sql.schema import AuditLog, ContactFeature
from sql.types import utcnow
from tests.pipelines.segment_rig import customer, open_shop, segment_row, stored_members


@pytest.fixture
def siaran(settings: Settings, engine: Engine) -> Siaran:
    """Dagster not configured unless a test says so."""
    return Siaran(settings.model_copy(update={"dagster_home": None, "dagster_url": None}), engine)


def refresh_audits(siaran: Siaran) -> list[dict[str, object]]:
    with siaran.uow.session() as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action == "segment.refresh"))
        return [row.details for row in rows]


def test_without_dagster_the_segment_is_refreshed_here(siaran: Siaran, owner: Actor) -> None:
    shop = open_shop(siaran)
    before = segment_row(siaran, shop.vip)
    with siaran.uow.begin() as session:  # new since the features were computed
        citra = customer(session, "Citra", "+6281200000003", labels=["vip"])

    request = request_segment_refresh(siaran, owner, shop.vip)

    assert (request.via, request.run_id) == ("local", None)
    assert request.snapshot is not None
    assert (request.snapshot.members, request.snapshot.entered) == (2, 1)
    assert request.detail == '"VIP" refreshed: 2 members (1 entered, 0 left), 2 reachable.'
    after = segment_row(siaran, shop.vip)
    assert after.contact_count == 2
    assert before.last_refreshed_at and after.last_refreshed_at
    assert after.last_refreshed_at > before.last_refreshed_at
    assert stored_members(siaran, shop.vip) == {shop.ani, citra}
    (audit,) = refresh_audits(siaran)
    assert audit["via"] == "local" and audit["entered"] == 1


def test_a_static_segment_keeps_its_members_on_refresh(siaran: Siaran, owner: Actor) -> None:
    shop = open_shop(siaran)
    with siaran.uow.begin() as session:
        customer(session, "Citra", "+6281200000003")

    request = request_segment_refresh(siaran, owner, shop.everyone)

    assert request.snapshot is not None and request.snapshot.frozen
    assert stored_members(siaran, shop.everyone) == {shop.ani, shop.budi}
    assert "is static" in request.detail


def test_only_owners_may_refresh(
    siaran: Siaran, owner: Actor, supervisor: Actor, agent: Actor
) -> None:
    shop = open_shop(siaran)
    for actor in (supervisor, agent):
        with pytest.raises(PermissionDenied):
            request_segment_refresh(siaran, actor, shop.vip)
    with pytest.raises(NotFound):
        request_segment_refresh(siaran, owner, shop.ani)  # a contact's id, not a segment's
    assert refresh_audits(siaran) == []


def test_with_dagster_a_run_of_the_partition_is_queued(
    siaran: Siaran, owner: Actor, dagster_webserver: tuple[str, dg.DagsterInstance]
) -> None:
    url, instance = dagster_webserver
    siaran.settings = siaran.settings.model_copy(update={"dagster_url": url})
    shop = open_shop(siaran)
    before = segment_row(siaran, shop.vip)

    request = request_segment_refresh(siaran, owner, shop.vip)

    assert request.via == "dagster" and request.snapshot is None
    run = instance.get_run_by_id(request.run_id or "")
    assert run is not None and run.job_name == "segment_snapshots_job"
    assert run.status == dg.DagsterRunStatus.QUEUED  # the daemon launches it
    assert run.tags["dagster/partition"] == str(shop.vip)
    assert run.tags["siaran/trigger"] == "refresh"
    assert str(shop.vip) in instance.get_dynamic_partitions("segments")
    assert segment_row(siaran, shop.vip).last_refreshed_at == before.last_refreshed_at
    assert refresh_audits(siaran) == [
        {"via": "dagster", "run_id": run.run_id, "trigger": "refresh"}
    ]
    # Asking again (the partition exists now) queues another run.
    again = request_segment_refresh(siaran, owner, shop.vip)
    assert again.via == "dagster" and again.run_id != request.run_id


def test_unreachable_dagster_falls_back_to_refreshing_here(
    siaran: Siaran, owner: Actor, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    siaran.settings = siaran.settings.model_copy(
        update={"dagster_url": f"http://127.0.0.1:{closed}"}
    )
    shop = open_shop(siaran)

    with caplog.at_level(logging.WARNING, logger="siaran.segments"):
        request = request_segment_refresh(siaran, owner, shop.vip)

    assert request.via == "local" and request.snapshot is not None
    assert "Could not submit a refresh" in caplog.text


def test_stale_features_are_recomputed_in_full_past_their_bound(siaran: Siaran) -> None:
    now = utcnow()
    with siaran.uow.begin() as session:
        customer(session, "Ani", "+6281200000001", at=now - timedelta(days=3))
    refresh_contact_features(siaran.engine, now=now - timedelta(hours=3))
    with siaran.uow.begin() as session:
        citra = customer(session, "Citra", "+6281200000003")

    full = refresh_stale_features(siaran, now)
    assert full.scope == "all contacts"
    with siaran.uow.session() as session:
        assert features_computed_at(session) == now
        assert session.get(ContactFeature, citra) is not None

    with siaran.uow.begin() as session:
        dedi = customer(session, "Dedi", "+6281200000004")
    partial = refresh_stale_features(siaran, now + timedelta(seconds=1))
    assert partial.scope == f"contacts changed since {(now - OVERLAP).isoformat()}"
    with siaran.uow.session() as session:
        assert features_computed_at(session) == now  # not a full refresh
        assert session.get(ContactFeature, dedi) is not None


def test_a_checked_snapshot_counts_the_same_as_it_stored(siaran: Siaran) -> None:
    shop = open_shop(siaran)
    with siaran.uow.begin() as session:
        citra = customer(session, "Citra", "+6281200000003", labels=["vip"])
    refresh_contact_features(siaran.engine, [citra])

    checked = checked_snapshot(siaran.engine, shop.vip, utcnow())

    assert checked.consistent
    assert (checked.result.members, checked.stored_members, checked.fresh_members) == (2, 2, 2)
    assert (checked.name, checked.kind) == ("VIP", "dynamic")
