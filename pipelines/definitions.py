"""Dagster ``Definitions`` for Siaran: assets, jobs, schedules, sensors and resources.

Loaded by ``workspace.yaml`` (``dagster dev``) and by ``dg check defs``. Nothing here does
I/O at import time: resources connect when a run needs them.
"""

from __future__ import annotations

import dagster as dg

from pipelines.resources import SiaranResource

defs = dg.Definitions(
    assets=[],
    jobs=[],
    schedules=[],
    sensors=[],
    resources={"siaran": SiaranResource()},
)
