"""Dagster ``Definitions`` for Siaran: assets, jobs, schedules, sensors and resources.

Loaded by ``workspace.yaml`` (``dagster dev``) and by ``dg check defs``. Nothing here does
I/O at import time: resources connect when a run needs them.

Every job, and every materialization started from the Dagster UI, runs its steps in the
run's own process: a process per step would import the code location again (seconds)
before any work starts, holding up the first message of a "Send now", and DuckDB lets
only one process write the warehouse anyway.
"""

from __future__ import annotations

import dagster as dg

from assets.segments import SEGMENT_ASSETS, SEGMENT_CHECKS
from assets.warehouse import WAREHOUSE_ASSETS, WAREHOUSE_CHECKS
from pipelines.campaign_sensor import scheduled_campaigns_sensor
from pipelines.campaigns import (
    campaign_expiry_schedule,
    expire_campaign_messages_job,
    send_campaign_job,
)
from pipelines.resources import SiaranResource, WarehouseResource
from pipelines.segments import SEGMENT_JOBS, SEGMENT_SCHEDULES, SEGMENT_SENSORS
from pipelines.warehouse import warehouse_freshness_sensor, warehouse_refresh_job
from pipelines.webhooks import webhook_retry_job, webhook_retry_sensor

defs = dg.Definitions(
    assets=[*WAREHOUSE_ASSETS, *SEGMENT_ASSETS],
    asset_checks=[*WAREHOUSE_CHECKS, *SEGMENT_CHECKS],
    jobs=[
        send_campaign_job,
        expire_campaign_messages_job,
        webhook_retry_job,
        warehouse_refresh_job,
        *SEGMENT_JOBS,
    ],
    schedules=[campaign_expiry_schedule, *SEGMENT_SCHEDULES],
    sensors=[
        scheduled_campaigns_sensor,
        webhook_retry_sensor,
        warehouse_freshness_sensor,
        *SEGMENT_SENSORS,
    ],
    resources={"siaran": SiaranResource(), "warehouse": WarehouseResource()},
    executor=dg.in_process_executor,
)
