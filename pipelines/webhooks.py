"""Webhook retries: a sensor that notices stored events still waiting, and the job that
processes them (``core.webhooks.retry_due_events``).

Due are events whose processing failed and whose backoff has passed, and events still
"received" a while after they arrived (the server stopped before processing them). The
sensor counts them every ``INTERVAL_SECONDS`` with one cheap query and requests a run only
when there are some, at most one per interval (the run key is the interval's start). Two
runs at once would be harmless: each claims the events it takes.
"""

# No ``from __future__ import annotations``: Dagster reads the ops' resource annotations at
# definition time and cannot resolve them from strings.

import time

import dagster as dg

from core.webhooks import due_count, retry_due_events
from pipelines.resources import SiaranResource

INTERVAL_SECONDS = 60


@dg.op(description="Process the stored webhook events that are due for a retry.")
def retry_webhook_events(context: dg.OpExecutionContext, siaran: SiaranResource) -> dg.Output[int]:
    app = siaran.build()
    try:
        report = retry_due_events(app)
    finally:
        app.engine.dispose()
    context.log.info(str(report))
    return dg.Output(
        report.processed,
        metadata={"claimed": report.claimed, "processed": report.processed,
                  "still_failing": report.failed},
    )  # fmt: skip


@dg.job(
    name="webhook_retry_job",
    description="Retries webhook events whose processing failed or never happened, so nothing "
    "WhatsApp sent is lost.",
    tags={"dagster/max_retries": 0},
)
def webhook_retry_job() -> None:
    retry_webhook_events()


@dg.sensor(
    name="webhook_retry_sensor",
    job=webhook_retry_job,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts webhook_retry_job when stored webhook events wait for a retry.",
)
def webhook_retry_sensor(
    context: dg.SensorEvaluationContext, siaran: SiaranResource
) -> dg.SensorResult:
    app = siaran.build()
    try:
        with app.uow.session() as session:
            due = due_count(session)
    finally:
        app.engine.dispose()
    if not due:
        return dg.SensorResult(skip_reason="No webhook event waits for a retry.")
    bucket = int(time.time() // INTERVAL_SECONDS) * INTERVAL_SECONDS
    context.log.info(f"{due} webhook events wait for a retry.")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"webhook-retry-{bucket}")])
