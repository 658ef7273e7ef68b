"""Refreshing saved segments: the checked snapshot Dagster runs, and "Refresh" on demand.

Dagster keeps segments fresh on its own (``pipelines.segments``): a sensor refreshes the
features of contacts that changed and asks for ``segment_snapshots`` runs of the segments
they move, a schedule recomputes every contact's features and then every dynamic segment.
Each run is one partition (a segment id) and calls ``checked_snapshot``.

"Refresh" (``POST /api/segments/{id}/refresh``, the app's button) calls
``request_segment_refresh``::

    Dagster is configured (SIARAN_DAGSTER_URL, or  -> the segment's partition is added if
      DAGSTER_HOME and the webserver's port)          missing and a ``segment_snapshots`` run
                                                      of it is submitted over GraphQL ("dagster")
    no Dagster, or its webserver cannot be reached  -> stale features are recomputed and the
                                                      segment snapshotted here, now   ("local")

Why GraphQL and not ``DagsterInstance.submit_run``: as for campaigns (``core.sending``), a
run the daemon can launch needs the job's snapshot and code origin, which the webserver
holds; its GraphQL API is Dagster's public way for another process to launch one. Falling
back to a local refresh means the button always does what it says, Dagster or not: either
way the segment's ``last_refreshed_at`` and ``contact_count`` change (at once here, when the
run has finished there).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core import audit
from core.bootstrap import Siaran
from core.dagster_runs import dagster_url, submit_run
from core.errors import NotFound
from core.permissions import SYSTEM_ACTOR, Actor, Permission, require
from core.segment_changes import changed_contacts
from core.segments import (
    SnapshotResult,
    features_computed_at,
    label_masks,
    matching_contacts,
    refresh_contact_features,
    snapshot_segment,
)
from core.segments.preview import opted_out_ids
from core.sending import TRIGGER_TAG
from sql.schema import Segment, SegmentMember
from sql.types import utcnow

log = logging.getLogger("siaran.segments")

#: Dagster names shared by ``assets.segments``, ``pipelines.segments`` and this module.
PARTITIONS = "segments"
FEATURES_ASSET = "contact_features"
SNAPSHOT_ASSET = "segment_snapshots"
FEATURES_JOB = "contact_features_job"
SNAPSHOT_JOB = "segment_snapshots_job"
SEGMENT_TAG = "siaran/segment"
PARTITION_TAG = "dagster/partition"
#: Changes are looked for this far before the last look too: a transaction that stamped a
#: row before the last look but committed after it is still seen.
OVERLAP = timedelta(seconds=60)
SERIALIZATION_ATTEMPTS = 3

Via = Literal["dagster", "local"]


@dataclass(frozen=True)
class CheckedSnapshot:
    """A snapshot and, from the same transaction, a fresh count to check it against."""

    result: SnapshotResult
    name: str
    kind: str
    stored_members: int  # rows in segment_members after the snapshot
    fresh_members: int  # the criteria evaluated again at snapshot time (static: frozen rows)
    fresh_reachable: int

    @property
    def consistent(self) -> bool:
        members = self.result.members == self.stored_members == self.fresh_members
        return members and self.result.reachable == self.fresh_reachable


def checked_snapshot(
    engine: Engine, segment_id: uuid.UUID, now: datetime, *, actor: Actor = SYSTEM_ACTOR
) -> CheckedSnapshot:
    """Snapshot the segment at ``now`` and count its members afresh in the same transaction.

    On PostgreSQL the transaction is REPEATABLE READ, so the snapshot and the fresh count see
    the same data even while features are refreshed; a conflict with a concurrent snapshot
    of the same segment is retried.
    """
    for attempt in range(1, SERIALIZATION_ATTEMPTS + 1):
        try:
            with Session(engine) as session, session.begin():
                if engine.dialect.name == "postgresql":
                    session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                return _snapshot_and_count(session, segment_id, now, actor)
        except OperationalError as exc:
            if attempt == SERIALIZATION_ATTEMPTS or not _serialization_failure(exc):
                raise
            log.info("Segment %s: snapshot conflicted with another; retrying", segment_id)
    raise AssertionError("unreachable")


def _snapshot_and_count(
    session: Session, segment_id: uuid.UUID, now: datetime, actor: Actor
) -> CheckedSnapshot:
    result = snapshot_segment(session, segment_id, now, actor=actor)
    segment = session.get(Segment, segment_id)
    assert segment is not None  # snapshot_segment found and locked it
    members = select(SegmentMember.contact_id).where(SegmentMember.segment_id == segment_id)
    stored = _count(session, members)
    fresh = stored
    if segment.kind == "dynamic":
        fresh = _count(session, matching_contacts(segment.criteria, now, label_masks(session)))
    reachable = _count(session, members.where(SegmentMember.contact_id.not_in(opted_out_ids())))
    return CheckedSnapshot(result, segment.name, segment.kind, stored, fresh, reachable)


def _count(session: Session, query: Any) -> int:
    return int(session.execute(select(func.count()).select_from(query.subquery())).scalar_one())


def _serialization_failure(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in ("40001", "40P01")


# --- refreshing here ----------------------------------------------------------------------


@dataclass(frozen=True)
class FeaturesRefresh:
    rows: int  # feature rows inserted or rewritten
    scope: str  # "all contacts" or "contacts changed since <time>"


def refresh_stale_features(siaran: Siaran, now: datetime) -> FeaturesRefresh:
    """Recompute what may be stale: every contact when the last full refresh is older than
    the freshness bound (or never happened), else the contacts with activity since it."""
    with siaran.uow.session() as session:
        full = features_computed_at(session)
        bound = timedelta(minutes=siaran.settings.segment_features_max_age_minutes)
        if full is not None and now - full <= bound:
            since = full - OVERLAP
            ids = changed_contacts(session, since)
            rows = refresh_contact_features(siaran.engine, ids, now=now)
            return FeaturesRefresh(rows, f"contacts changed since {since.isoformat()}")
    return FeaturesRefresh(refresh_contact_features(siaran.engine, now=now), "all contacts")


@dataclass(frozen=True)
class LocalRefresh:
    features: FeaturesRefresh
    snapshot: SnapshotResult


def refresh_segment_here(
    siaran: Siaran, actor: Actor, segment_id: uuid.UUID, *, now: datetime | None = None
) -> LocalRefresh:
    """Recompute stale features, then snapshot the segment, in this process (audited)."""
    require(actor, Permission.SEGMENT_WRITE)
    now = now or utcnow()
    with siaran.uow.session() as session:
        _existing(session, segment_id)
    features = refresh_stale_features(siaran, now)
    with siaran.uow.begin() as session:
        snapshot = snapshot_segment(session, segment_id, now, actor=actor)
        audit.record(
            session,
            actor,
            "segment.refresh",
            "segment",
            segment_id,
            {
                "via": "local",
                "members": snapshot.members,
                "reachable": snapshot.reachable,
                "entered": snapshot.entered,
                "left": snapshot.left,
                "features_refreshed": features.rows,
                "features_scope": features.scope,
            },
        )
    return LocalRefresh(features, snapshot)


# --- asking for a refresh -------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshRequest:
    """What ``request_segment_refresh`` did."""

    segment_id: uuid.UUID
    via: Via
    run_id: str | None  # the Dagster run, when submitted there
    detail: str  # one sentence for the owner
    snapshot: SnapshotResult | None  # the new counts, when refreshed here


def request_segment_refresh(
    siaran: Siaran, actor: Actor, segment_id: uuid.UUID, *, trigger: str = "refresh"
) -> RefreshRequest:
    """Refresh the segment through Dagster when configured, else here (module docstring)."""
    require(actor, Permission.SEGMENT_WRITE)
    with siaran.uow.session() as session:
        name = _existing(session, segment_id).name
    url = dagster_url(siaran.settings)
    if url is not None:
        try:
            run_id = submit_snapshot_run(url, segment_id, trigger)
        except Exception as exc:  # any failure to reach Dagster: refresh here instead
            log.warning(
                "Could not submit a refresh of segment %s to Dagster at %s (%s); refreshing "
                "it in this process instead.", segment_id, url, exc,
            )  # fmt: skip
        else:
            with siaran.uow.begin() as session:
                details = {"via": "dagster", "run_id": run_id, "trigger": trigger}
                audit.record(session, actor, "segment.refresh", "segment", segment_id, details)
            detail = f'Dagster run {run_id} refreshes "{name}"; its counts change when it ends.'
            return RefreshRequest(segment_id, "dagster", run_id, detail, None)
    local = refresh_segment_here(siaran, actor, segment_id)
    snapshot = local.snapshot
    if snapshot.frozen:
        detail = (
            f'"{name}" is static: its {snapshot.members:,} members stay as frozen; '
            f"{snapshot.reachable:,} of them are reachable now."
        )
    else:
        detail = (
            f'"{name}" refreshed: {snapshot.members:,} members ({snapshot.entered:,} entered, '
            f"{snapshot.left:,} left), {snapshot.reachable:,} reachable."
        )
    return RefreshRequest(segment_id, "local", None, detail, snapshot)


def _existing(session: Session, segment_id: uuid.UUID) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"No segment with id {segment_id}.")
    return segment


def submit_snapshot_run(url: str, segment_id: uuid.UUID, trigger: str) -> str:
    """Add the segment's partition if missing and submit a run of it; the run's id."""
    key = str(segment_id)
    return submit_run(
        url,
        SNAPSHOT_JOB,
        run_config={},
        tags=run_tags(segment_id, trigger),
        partition=(PARTITIONS, key),
    )


def run_tags(segment_id: uuid.UUID, trigger: str) -> dict[str, str]:
    """Tags of a ``segment_snapshots`` run: its partition, the segment, and why it runs."""
    key = str(segment_id)
    return {PARTITION_TAG: key, SEGMENT_TAG: key, TRIGGER_TAG: trigger}
