"""Keeping segments fresh in Dagster: the two jobs, the partition sensor, the full refresh.

``segment_partitions_sensor`` (every ``INTERVAL_SECONDS``, running by default) each tick:

1. keeps one ``segments`` partition per saved segment: adds the new ones (and asks for their
   first snapshot run) and deletes those of deleted segments, ``PARTITION_BATCH`` at a time;
2. when a ``contact_features`` run has materialized (the schedule's full refresh, a large
   incremental one, a run from the UI), asks for a snapshot of every dynamic segment;
3. looks for CRM changes since its cursor (contacts created or edited, labelled or messaged):
   up to ``SENSOR_REFRESH_LIMIT`` changed contacts have their features recomputed in the tick
   (reported as a ``contact_features`` materialization) and only the dynamic segments they
   enter or leave get a snapshot run, so a new matching contact is a member within about a
   minute (tick + run); more changes than that (an import) become one ``contact_features``
   run, followed by step 2. Opt-outs and opt-ins since the cursor refresh the reachable
   counts of the segments holding those contacts.

A partition that already has a run waiting in the queue gets no second one: that run will
see the same data. The cursor is a small JSON object, ``{"since": "<ISO UTC>",
"features_seen": <storage id>}``: changes before ``since`` are handled, and the
``contact_features`` materializations up to ``features_seen`` were acted on.

``segment_refresh_schedule`` (``SIARAN_SEGMENT_REFRESH_CRON``, UTC, default hourly) asks for
a full ``contact_features`` run: the only refresh that sees a conversation's status or
rating changed in place, a removed label, or time passing for "within the last N days".
"""

# No ``from __future__ import annotations``: Dagster reads resource annotations at
# definition time and cannot resolve them from strings.

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import dagster as dg
from sqlalchemy import select

from assets.segments import (
    FEATURES_KEY,
    contact_features,
    covered_until,
    features_metadata,
    segment_snapshots,
)
from core.bootstrap import Siaran
from core.segment_changes import (
    changed_contacts,
    opt_out_changes,
    segments_holding,
    segments_moved_by,
)
from core.segment_refresh import (
    FEATURES_JOB,
    OVERLAP,
    PARTITION_TAG,
    PARTITIONS,
    SEGMENT_TAG,
    SNAPSHOT_JOB,
)
from core.segments import features_computed_at, refresh_contact_features
from core.sending import TRIGGER_TAG
from core.settings import ConfigurationError, load_settings
from pipelines.resources import SiaranResource
from sql.schema import Contact, Segment
from sql.types import utcnow

INTERVAL_SECONDS = 20
#: More changed contacts than this in one tick become a ``contact_features`` run.
SENSOR_REFRESH_LIMIT = 2000
PARTITION_BATCH = 500
RunStatus = dg.DagsterRunStatus
ACTIVE = [RunStatus.QUEUED, RunStatus.NOT_STARTED, RunStatus.STARTING, RunStatus.STARTED]
WAITING = [RunStatus.QUEUED, RunStatus.NOT_STARTED]

contact_features_job = dg.define_asset_job(
    FEATURES_JOB,
    selection=dg.AssetSelection.assets(contact_features),
    executor_def=dg.in_process_executor,
    description="Recompute contact features (changed contacts, or all with full: true) and "
    "check their freshness.",
)
segment_snapshots_job = dg.define_asset_job(
    SNAPSHOT_JOB,
    selection=dg.AssetSelection.assets(segment_snapshots),
    executor_def=dg.in_process_executor,
    description="Snapshot one segment (partition = segment id): members, entered, left.",
)


def features_run_config(full: bool) -> dict[str, object]:
    return {"ops": {contact_features.op.name: {"config": {"full": full}}}}


@dataclass
class Cursor:
    """The sensor's memory between ticks (see the module docstring)."""

    since: datetime | None = None
    features_seen: int | None = None

    @classmethod
    def parse(cls, text: str | None) -> "Cursor":
        """The cursor from its JSON; an empty or unreadable one starts afresh."""
        try:
            data = json.loads(text) if text else {}
            since = data.get("since")
            seen = data.get("features_seen")
            return cls(
                datetime.fromisoformat(since) if since else None,
                int(seen) if seen is not None else None,
            )
        except (ValueError, TypeError, AttributeError):
            return cls()

    def dump(self) -> str:
        data = {
            "since": self.since.isoformat() if self.since else None,
            "features_seen": self.features_seen,
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"))


@dataclass
class Plan:
    """What one tick decided: partitions to add and delete, runs, events, the next cursor."""

    cursor: Cursor
    now: datetime
    add: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    snapshots: dict[str, str] = field(default_factory=dict)  # segment id -> why
    features_run: dg.RunRequest | None = None
    asset_events: list[dg.AssetMaterialization] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def snapshot(self, segment_id: str, reason: str) -> None:
        self.snapshots.setdefault(segment_id, reason)

    def run_requests(self, known: set[str], waiting: set[str]) -> list[dg.RunRequest]:
        """Snapshot runs of partitions that exist after this tick and have no run waiting."""
        stamp = self.now.isoformat()
        requests = [
            dg.RunRequest(
                run_key=f"{segment_id}:{reason}:{stamp}",
                job_name=SNAPSHOT_JOB,
                partition_key=segment_id,
                tags={SEGMENT_TAG: segment_id, TRIGGER_TAG: reason},
            )
            for segment_id, reason in sorted(self.snapshots.items())
            if segment_id in known and segment_id not in waiting
        ]
        return [self.features_run, *requests] if self.features_run else requests


def plan_tick(app: Siaran, instance: dg.DagsterInstance, now: datetime, cursor: Cursor) -> Plan:
    """Decide this tick's partitions, runs and feature refreshes (see the module docstring)."""
    plan = Plan(cursor=cursor, now=now)
    with app.uow.session() as session:
        segments = {str(segment_id): kind for segment_id, kind in session.execute(
            select(Segment.id, Segment.kind))}  # fmt: skip
    _sync_partitions(instance, segments, plan)
    _after_features_runs(instance, segments, plan)
    _crm_changes(app, instance, plan)
    return plan


def _sync_partitions(instance: dg.DagsterInstance, segments: dict[str, str], plan: Plan) -> None:
    known = set(instance.get_dynamic_partitions(PARTITIONS))
    plan.add = sorted(set(segments) - known)[:PARTITION_BATCH]
    plan.delete = sorted(known - set(segments))[:PARTITION_BATCH]
    for segment_id in plan.add:
        plan.snapshot(segment_id, "new_segment")
    if plan.add or plan.delete:
        plan.notes.append(f"Partitions: {len(plan.add)} added, {len(plan.delete)} removed.")


def _after_features_runs(
    instance: dg.DagsterInstance, segments: dict[str, str], plan: Plan
) -> None:
    """A ``contact_features`` materialization made by a run: every dynamic segment follows."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=FEATURES_KEY, after_storage_id=plan.cursor.features_seen),
        limit=100,
    ).records
    first_look = plan.cursor.features_seen is None
    if not records:
        if first_look:
            plan.cursor.features_seen = 0  # none yet: the first one will be new
        return
    plan.cursor.features_seen = max(record.storage_id for record in records)
    # This sensor's own materializations carry no run id; it already asked for what they move.
    if first_look or not any(record.run_id for record in records):
        return
    dynamic = [segment_id for segment_id, kind in segments.items() if kind == "dynamic"]
    for segment_id in dynamic:
        plan.snapshot(segment_id, "features_refreshed")
    plan.notes.append(f"Contact features were refreshed by a run: {len(dynamic)} dynamic "
                      "segments follow.")  # fmt: skip


def _crm_changes(app: Siaran, instance: dg.DagsterInstance, plan: Plan) -> None:
    if instance.get_runs(dg.RunsFilter(job_name=FEATURES_JOB, statuses=ACTIVE), limit=1):
        plan.notes.append("A contact_features run is in progress; changes are looked at after it.")
        return
    now = plan.now
    with app.uow.session() as session:
        full = features_computed_at(session)  # the last full refresh
        has_contacts = session.scalar(select(Contact.id).limit(1)) is not None
    if full is None:
        if has_contacts:
            plan.features_run = _features_request(True, "first_refresh", now)
            plan.notes.append("Features never computed in full: a contact_features run follows.")
        plan.cursor.since = now
        return
    # Features: what no materialization has covered yet. Opt-outs: what this sensor has not.
    since = max(t for t in (plan.cursor.since, covered_until(instance), full) if t) - OVERLAP
    opt_outs_since = (plan.cursor.since or full) - OVERLAP
    with app.uow.session() as session:
        changed = changed_contacts(session, since)
        flipped = opt_out_changes(session, opt_outs_since)
    if len(changed) > SENSOR_REFRESH_LIMIT:
        # The run starts where the last materialization ends (covering these changes) and
        # the ticks wait while it runs; when it ends, every dynamic segment follows.
        plan.features_run = _features_request(False, "crm_change", since)
        plan.notes.append(f"{len(changed):,} contacts changed: a contact_features run follows.")
    elif changed:
        _refresh_in_tick(app, plan, changed, since)
    if flipped:
        with app.uow.session() as session:
            holding = segments_holding(session, flipped)
        for segment_id in holding:
            plan.snapshot(str(segment_id), "opt_out")
        plan.notes.append(f"{len(flipped):,} opt-outs or opt-ins touch {len(holding)} segments.")
    plan.cursor.since = now


def _refresh_in_tick(app: Siaran, plan: Plan, changed: list[uuid.UUID], since: datetime) -> None:
    """Recompute the changed contacts' features now and ask for the segments they move."""
    rows = refresh_contact_features(app.engine, changed, now=plan.now)
    scope = f"contacts changed since {since.isoformat()} (segment_partitions_sensor)"
    metadata = features_metadata(app, rows=rows, computed_at=plan.now, scope=scope)
    plan.asset_events.append(dg.AssetMaterialization(FEATURES_KEY, metadata=metadata))
    with app.uow.session() as session:
        moved = segments_moved_by(session, changed, plan.now)
    for segment_id in moved:
        plan.snapshot(str(segment_id), "crm_change")
    plan.notes.append(f"{len(changed):,} contacts changed; {len(moved)} segments move.")


def _features_request(full: bool, trigger: str, since: datetime) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=f"features:{'full' if full else 'changed'}:{since.isoformat()}",
        job_name=FEATURES_JOB,
        run_config=features_run_config(full),
        tags={TRIGGER_TAG: trigger},
    )


def _waiting_partitions(instance: dg.DagsterInstance) -> set[str]:
    runs = instance.get_runs(dg.RunsFilter(job_name=SNAPSHOT_JOB, statuses=WAITING))
    return {run.tags[PARTITION_TAG] for run in runs if PARTITION_TAG in run.tags}


@dg.sensor(
    name="segment_partitions_sensor",
    jobs=[contact_features_job, segment_snapshots_job],
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps one partition per segment and refreshes the segments that CRM "
    "changes move, so a new matching contact joins a dynamic segment within a minute.",
)
def segment_partitions_sensor(
    context: dg.SensorEvaluationContext, siaran: SiaranResource
) -> dg.SensorResult:
    app = siaran.build()
    try:
        plan = plan_tick(app, context.instance, utcnow(), Cursor.parse(context.cursor))
    finally:
        app.engine.dispose()
    for note in plan.notes:
        context.log.info(note)
    known = (set(context.instance.get_dynamic_partitions(PARTITIONS)) | set(plan.add)) - set(
        plan.delete
    )
    requests = plan.run_requests(known, _waiting_partitions(context.instance))
    partition_requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest]
    partition_requests = []
    if plan.add:
        partition_requests.append(dg.AddDynamicPartitionsRequest(PARTITIONS, plan.add))
    if plan.delete:
        partition_requests.append(dg.DeleteDynamicPartitionsRequest(PARTITIONS, plan.delete))
    nothing = not requests and not partition_requests
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=partition_requests,
        asset_events=plan.asset_events,
        cursor=plan.cursor.dump(),
        skip_reason="No segment was added, deleted or moved by a change." if nothing else None,
    )


def _refresh_schedule() -> dg.ScheduleDefinition:
    cron = load_settings().segment_refresh_cron
    try:
        return dg.ScheduleDefinition(
            name="segment_refresh_schedule",
            job=contact_features_job,
            cron_schedule=cron,
            execution_timezone="UTC",
            run_config=features_run_config(True),
            tags={TRIGGER_TAG: "schedule"},
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Recomputes every contact's features; the segment sensor then "
            "refreshes every dynamic segment.",
        )
    except dg.DagsterInvalidDefinitionError as exc:
        raise ConfigurationError(
            f"SIARAN_SEGMENT_REFRESH_CRON: {cron!r} is not a cron expression "
            f"(e.g. '0 * * * *' for hourly): {exc}"
        ) from None


segment_refresh_schedule = _refresh_schedule()
SEGMENT_JOBS = [contact_features_job, segment_snapshots_job]
SEGMENT_SENSORS = [segment_partitions_sensor]
SEGMENT_SCHEDULES = [segment_refresh_schedule]
