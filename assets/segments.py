"""Segments as Dagster assets: contact features, then one snapshot partition per segment.

    contact_features ──────────────► segment_snapshots  (one dynamic partition per segment id)
      check: contact_features_fresh    check: members_match_criteria (in the same step)

``contact_features`` is the per-contact table every criteria is evaluated over
(``core.segments.features``); ``segment_snapshots`` stores a segment's members, who entered
and who left (``core.segments.snapshots``). ``pipelines.segments`` decides when each runs:
the sensor after CRM changes and for new segments, the schedule for the full refresh.
"""

# No ``from __future__ import annotations``: Dagster reads config and resource annotations
# at definition time and cannot resolve them from strings.

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from pydantic import Field
from sqlalchemy import func, select

from core.bootstrap import Siaran
from core.errors import NotFound
from core.segment_changes import changed_contacts
from core.segment_refresh import (
    FEATURES_ASSET,
    OVERLAP,
    PARTITIONS,
    SNAPSHOT_ASSET,
    checked_snapshot,
)
from core.segments import features_computed_at, refresh_contact_features
from pipelines.resources import SiaranResource
from sql.schema import Contact, ContactFeature
from sql.types import utcnow

GROUP = "segments"
SEGMENT_PARTITIONS = dg.DynamicPartitionsDefinition(name=PARTITIONS)
CONSISTENT_CHECK = "members_match_criteria"
FRESH_CHECK = "contact_features_fresh"
FEATURES_KEY = dg.AssetKey(FEATURES_ASSET)
SNAPSHOTS_KEY = dg.AssetKey(SNAPSHOT_ASSET)


class FeaturesConfig(dg.Config):
    full: bool = Field(
        default=False,
        description="Recompute every contact instead of those changed since the last "
        "materialization (the only way to see status, rating and label-removal changes).",
    )


def features_metadata(
    app: Siaran, *, rows: int, computed_at: datetime, scope: str
) -> dict[str, Any]:
    """What a ``contact_features`` materialization reports (also the sensor's own ones)."""
    with app.uow.session() as session:
        full = features_computed_at(session)
        total = session.scalar(select(func.count()).select_from(ContactFeature)) or 0
    metadata: dict[str, Any] = {
        "rows_written": rows,  # rows inserted or rewritten (unchanged ones are left alone)
        "scope": scope,
        "computed_at": dg.MetadataValue.timestamp(computed_at),
        "dagster/row_count": int(total),
    }
    if full is not None:
        metadata["last_full_refresh"] = dg.MetadataValue.timestamp(full)
    return metadata


def covered_until(instance: dg.DagsterInstance) -> datetime | None:
    """When the last ``contact_features`` materialization computed its rows, if known.

    Every materialization (a full refresh, an incremental one, the sensor's) leaves all
    timestamped changes before its ``computed_at`` in the table.
    """
    event = instance.get_latest_materialization_event(FEATURES_KEY)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get("computed_at")
    if not isinstance(value, dg.TimestampMetadataValue):
        return None
    return datetime.fromtimestamp(value.value, UTC)


@dg.asset(name=FEATURES_ASSET, group_name=GROUP, kinds={"sql"})
def contact_features(
    context: dg.AssetExecutionContext, config: FeaturesConfig, siaran: SiaranResource
) -> dg.MaterializeResult:
    """One row per contact with what segment criteria filter on: last interaction, latest
    and seen conversation statuses, conversation count, ratings, labels as bits and the
    custom fields. Recomputes the contacts changed since the last materialization, or every
    contact when asked (``full``), on the first run, or when the last full refresh is older
    than SIARAN_SEGMENT_FEATURES_MAX_AGE_MINUTES."""
    app = siaran.build()
    try:
        now = utcnow()
        since = None if config.full else _incremental_since(context.instance, app, now)
        if since is None:
            rows = refresh_contact_features(app.engine, now=now)
            scope = "all contacts"
        else:
            with app.uow.session() as session:
                ids = changed_contacts(session, since)
            rows = refresh_contact_features(app.engine, ids, now=now)
            scope = f"contacts changed since {since.isoformat()}"
        context.log.info(f"Contact features recomputed ({scope}); {rows:,} rows written.")
        return dg.MaterializeResult(
            metadata=features_metadata(app, rows=rows, computed_at=now, scope=scope)
        )
    finally:
        app.engine.dispose()


def _incremental_since(instance: dg.DagsterInstance, app: Siaran, now: datetime) -> datetime | None:
    """Where an incremental refresh starts, or None when a full one is due."""
    last = covered_until(instance)
    with app.uow.session() as session:
        full = features_computed_at(session)
    bound = timedelta(minutes=app.settings.segment_features_max_age_minutes)
    if last is None or full is None or now - full > bound:
        return None
    return last - OVERLAP


@dg.asset_check(
    asset=contact_features,
    name=FRESH_CHECK,
    description="The last full refresh of the features (which every row is at least as fresh "
    "as) started less than SIARAN_SEGMENT_FEATURES_MAX_AGE_MINUTES ago.",
)
def contact_features_fresh(siaran: SiaranResource) -> dg.AssetCheckResult:
    app = siaran.build()
    try:
        now = utcnow()
        bound = timedelta(minutes=app.settings.segment_features_max_age_minutes)
        with app.uow.session() as session:
            full = features_computed_at(session)
            rows = session.scalar(select(func.count()).select_from(ContactFeature)) or 0
            contacts = session.scalar(select(func.count()).select_from(Contact)) or 0
    finally:
        app.engine.dispose()
    metadata: dict[str, Any] = {"bound_minutes": bound.total_seconds() / 60, "rows": rows}
    if full is None:
        return dg.AssetCheckResult(
            passed=contacts == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata=metadata,
            description="No contacts yet: nothing to be stale."
            if contacts == 0
            else "The features were never computed in full; materialize contact_features.",
        )
    age = now - full
    metadata.update(
        last_full_refresh=dg.MetadataValue.timestamp(full),
        age_minutes=round(age.total_seconds() / 60, 1),
    )
    passed = age <= bound
    description = (
        "Features are within their freshness bound."
        if passed
        else f"The last full refresh started {age} ago; the schedule's next one is overdue."
    )
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=description,
    )


@dg.asset(
    name=SNAPSHOT_ASSET,
    partitions_def=SEGMENT_PARTITIONS,
    deps=[contact_features],
    group_name=GROUP,
    kinds={"sql"},
    check_specs=[
        dg.AssetCheckSpec(
            CONSISTENT_CHECK,
            asset=SNAPSHOT_ASSET,
            description="The stored member count equals the criteria counted afresh at "
            "snapshot time (a static segment: its frozen rows), and so does the reachable "
            "count.",
        )
    ],
)
def segment_snapshots(
    context: dg.AssetExecutionContext, siaran: SiaranResource
) -> dg.MaterializeResult:
    """A segment's members (partition = segment id) as of the snapshot, with who entered and
    who left since the previous one, and its member and reachable counts. Dynamic segments
    follow their criteria; static ones keep their frozen members (only the reachable count
    changes)."""
    segment_id = _segment_id(context.partition_key)
    app = siaran.build()
    try:
        checked = checked_snapshot(app.engine, segment_id, utcnow())
    except NotFound:
        raise dg.Failure(
            description=f"Segment {segment_id} was deleted after this run was asked for; "
            "there is nothing to snapshot (the sensor removes its partition).",
            allow_retries=False,
        ) from None
    finally:
        app.engine.dispose()
    result = checked.result
    context.log.info(
        f'"{checked.name}": {result.members:,} members, {result.entered:,} entered, '
        f"{result.left:,} left, {result.reachable:,} reachable."
    )
    return dg.MaterializeResult(
        metadata={
            "segment": checked.name,
            "kind": checked.kind,
            "members": result.members,
            "reachable": result.reachable,
            "entered": result.entered,
            "left": result.left,
            "frozen": result.frozen,
            "snapshot_at": dg.MetadataValue.timestamp(result.snapshot_at),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CONSISTENT_CHECK,
                passed=checked.consistent,
                metadata={
                    "recorded_members": result.members,
                    "stored_rows": checked.stored_members,
                    "fresh_count": checked.fresh_members,
                    "recorded_reachable": result.reachable,
                    "fresh_reachable": checked.fresh_reachable,
                },
            )
        ],
    )


def _segment_id(partition_key: str) -> uuid.UUID:
    try:
        return uuid.UUID(partition_key)
    except ValueError:
        raise dg.Failure(
            description=f"Partition {partition_key!r} is not a segment id.", allow_retries=False
        ) from None


SEGMENT_ASSETS = [contact_features, segment_snapshots]
SEGMENT_CHECKS = [contact_features_fresh]
