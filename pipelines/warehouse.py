"""Keeping the analytics warehouse fresh: the refresh job and the sensor that starts it.

The sensor polls the operational database every ``INTERVAL_SECONDS`` for what moved
(``core.analytics.extract.change_marks``: latest message change, latest stored webhook,
campaign and preference changes, campaign count; all cheap, from indexes or small
tables). Its cursor is the last marks it acted on as JSON; when they differ it asks for
a ``warehouse_refresh`` run, so a new webhook is in the published warehouse within about
a minute (interval + run). While a refresh is queued or running it waits, leaving the
cursor alone, so changes that arrive meanwhile start the next run.

The job runs in one process (``in_process_executor``): DuckDB lets one process write the
working file, and the writer lock would only make parallel steps queue anyway.
"""

# No ``from __future__ import annotations``: Dagster reads resource annotations at
# definition time and cannot resolve them from strings.

import hashlib
import json

import dagster as dg

from core.analytics.extract import change_marks
from pipelines.resources import SiaranResource

INTERVAL_SECONDS = 20
JOB_NAME = "warehouse_refresh"
ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

warehouse_refresh_job = dg.define_asset_job(
    JOB_NAME,
    selection=dg.AssetSelection.groups("warehouse"),
    executor_def=dg.in_process_executor,
    description="Load what changed into the analytics warehouse, rebuild what it touched, "
    "publish data/warehouse/siaran.duckdb and check it against the operational database.",
)


def refresh_in_progress(instance: dg.DagsterInstance) -> bool:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=JOB_NAME, statuses=ACTIVE), limit=1)
    return bool(runs)


@dg.sensor(
    job=warehouse_refresh_job,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Refreshes the analytics warehouse within a minute of new messages, "
    "webhooks or opt-outs.",
)
def warehouse_freshness_sensor(
    context: dg.SensorEvaluationContext, siaran: SiaranResource
) -> dg.SensorResult | dg.SkipReason:
    app = siaran.build()
    try:
        with app.engine.connect() as conn:
            marks = change_marks(conn)
    finally:
        app.engine.dispose()
    cursor = json.dumps(marks, sort_keys=True)
    if context.cursor == cursor:
        return dg.SkipReason("Nothing changed since the last refresh.")
    if refresh_in_progress(context.instance):
        return dg.SkipReason("A warehouse refresh is in progress; the next tick looks again.")
    run_key = hashlib.sha256(cursor.encode()).hexdigest()[:32]
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=run_key)], cursor=cursor)
