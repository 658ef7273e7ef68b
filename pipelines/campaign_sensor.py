"""The campaign sensor: starts scheduled campaigns when due, and gives running ones a driver.

Every ``INTERVAL_SECONDS`` it asks for a ``send_campaign`` run for

- each scheduled campaign whose start has come (``core.campaigns.due_campaigns`` compares
  UTC instants: the owner's local date, time and zone, DST rules included, became one
  UTC instant when the campaign was scheduled);
- each running campaign that no live sender serves and no run is in progress for: its
  owner resumed it after its run ended on a long pause, or its run died. A run that
  Dagster still shows as started, long after its sender's heartbeat stopped (a killed run
  worker), is reported failed first, so the run queue's one-run-per-campaign limit frees.

Paused campaigns wait for their owner; a campaign with a run in progress is left to it. So
does a running campaign whose outbox has nothing due for a while
(``core.campaigns.next_due``): its last run ended "waiting" because only retries hours
ahead were left (131049). It gets a run once its next message is due within
``DUE_MARGIN``; one with nothing left at all gets a run too, which completes it.

Run keys are ``<campaign id>:<attempt>``, the attempt being the campaign's count of
``send_campaign`` runs so far plus one: the key is new exactly when a new run is needed,
and survives a lost cursor. ``run_key`` only de-duplicates this sensor's own requests; the
campaign's conditional status transition is what keeps two runs from launching it twice.

The cursor is a small JSON object holding the retry backoff of campaigns whose last run
failed: ``{"retry": {"<campaign id>": {"failures": 2, "not_before": "<ISO UTC>"}}}``. The
first retry is immediate, later ones wait 1, 2, 4 ... minutes (``RETRY_BASE`` doubling, at
most ``RETRY_MAX``), so a campaign whose runs keep failing does not start a run every tick.
"""

# No ``from __future__ import annotations``: Dagster reads the ops' config and resource
# annotations at definition time and cannot resolve them from strings.

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.campaigns import due_campaigns, next_due
from core.sending import CAMPAIGN_TAG, live_senders, run_config, run_tags
from core.settings import Settings
from pipelines.campaigns import send_campaign_job
from pipelines.resources import SiaranResource
from sql.schema import Campaign
from sql.types import utcnow

INTERVAL_SECONDS = 30
RETRY_BASE = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)
#: A started run with no live sender this long after it started is taken for dead.
DEAD_RUN_AFTER = timedelta(minutes=2)
#: A running campaign gets a run once its next message is due within this (one tick).
DUE_MARGIN = timedelta(seconds=INTERVAL_SECONDS)
RunStatus = dg.DagsterRunStatus
ACTIVE = frozenset(
    {
        RunStatus.QUEUED,
        RunStatus.NOT_STARTED,
        RunStatus.STARTING,
        RunStatus.STARTED,
        RunStatus.CANCELING,
    }
)
ENDED_BADLY = frozenset({RunStatus.FAILURE, RunStatus.CANCELED})
RECENT_RUNS = 20


@dataclass
class Cursor:
    """The sensor's memory between ticks: retry backoff per campaign (see module doc)."""

    retry: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> "Cursor":
        """The cursor from its JSON; an empty or unreadable one starts afresh."""
        try:
            data = json.loads(text) if text else {}
            retry = data.get("retry", {}) if isinstance(data, dict) else {}
            return cls({k: dict(v) for k, v in retry.items() if isinstance(v, dict)})
        except (ValueError, TypeError, AttributeError):
            return cls()

    def dump(self) -> str:
        return json.dumps({"retry": self.retry}, sort_keys=True, separators=(",", ":"))

    def waiting(self, campaign_id: str, now: datetime) -> datetime | None:
        """When the campaign's next retry may start, if that is still ahead."""
        entry = self.retry.get(campaign_id)
        if entry is None:
            return None
        try:
            not_before = datetime.fromisoformat(entry["not_before"])
        except (KeyError, TypeError, ValueError):
            return None
        return not_before if not_before > now else None

    def failed_again(self, campaign_id: str, now: datetime) -> None:
        failures = int(self.retry.get(campaign_id, {}).get("failures", 0)) + 1
        delay = min(RETRY_MAX, RETRY_BASE * 2 ** (failures - 2)) if failures > 1 else timedelta()
        self.retry[campaign_id] = {"failures": failures, "not_before": (now + delay).isoformat()}


@dataclass
class Plan:
    """What one tick decided: the runs to request, what it noticed, the next cursor."""

    requests: list[dg.RunRequest]
    notes: list[str]
    cursor: Cursor


def _request(campaign: Campaign, attempt: int, trigger: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=f"{campaign.id}:{attempt}",
        run_config=run_config(campaign.id),
        tags=run_tags(campaign.id, trigger),
    )


def _reap_dead_runs(
    instance: dg.DagsterInstance, records: list[Any], campaign: Campaign, now: datetime
) -> list[str]:
    """Report started runs of an unserved campaign failed once they are clearly dead."""
    reaped = []
    for record in records:
        run = record.dagster_run
        started = record.start_time or record.create_timestamp.timestamp()
        if (
            run.status == RunStatus.STARTED
            and now.timestamp() - started > DEAD_RUN_AFTER.total_seconds()
        ):
            instance.report_run_failed(
                run,
                message=f"No sender of campaign '{campaign.name}' has been alive for this run "
                "since long after it started; its worker must have died. Reported failed so a "
                "new run can take the campaign over.",
            )
            reaped.append(run.run_id)
    return reaped


def _when(at: datetime, now: datetime) -> str:
    """``HH:MM:SS``, with the date when it is not today's (UTC)."""
    return f"{at:%H:%M:%S}" if at.date() == now.date() else f"{at:%Y-%m-%d %H:%M:%S}"


def plan_runs(
    session: Session,
    instance: dg.DagsterInstance,
    settings: Settings,
    now: datetime,
    cursor: Cursor,
) -> Plan:
    """Decide this tick's run requests (see the module docstring)."""
    requests: list[dg.RunRequest] = []
    notes: list[str] = []
    due = due_campaigns(session, now)
    running = list(
        session.scalars(select(Campaign).where(Campaign.status == "running").order_by(Campaign.id))
    )
    next_due_at = next_due(session, [c.id for c in running], now)
    seen: set[str] = set()
    for campaign in [*due, *running]:
        key = str(campaign.id)
        seen.add(key)
        if campaign.status == "running" and live_senders(session, campaign, settings, now):
            cursor.retry.pop(key, None)
            continue
        waits_until = next_due_at.get(campaign.id) if campaign.status == "running" else None
        if waits_until is not None and waits_until > now + DUE_MARGIN:
            # Before looking at its runs: the run that just ended "waiting" may still show
            # as started for a moment, and must not be taken for dead.
            notes.append(f"'{campaign.name}': next retry due at {_when(waits_until, now)} UTC.")
            continue
        filters = dg.RunsFilter(tags={CAMPAIGN_TAG: key})
        records = list(instance.get_run_records(filters=filters, limit=RECENT_RUNS))
        active = [r for r in records if r.dagster_run.status in ACTIVE]
        if campaign.status == "running" and active:
            reaped = _reap_dead_runs(instance, active, campaign, now)
            notes += [
                f"Run {run_id} of '{campaign.name}' was dead; reported failed." for run_id in reaped
            ]
            active = [r for r in active if r.dagster_run.run_id not in reaped]
            if reaped:
                records = list(instance.get_run_records(filters=filters, limit=RECENT_RUNS))
        if active:
            continue
        last = records[0].dagster_run.status if records else None
        if last in ENDED_BADLY:
            wait = cursor.waiting(key, now)
            if wait is not None:
                notes.append(
                    f"'{campaign.name}': its last run failed; retrying after {wait:%H:%M:%S} UTC."
                )
                continue
            cursor.failed_again(key, now)
        else:
            cursor.retry.pop(key, None)
        if campaign.status == "scheduled":
            trigger = "schedule"
            late = now - campaign.scheduled_at if campaign.scheduled_at else timedelta()
            if late > timedelta(minutes=5):
                notes.append(f"'{campaign.name}' starts {late} after its scheduled time.")
        else:
            trigger = "resume" if last == RunStatus.SUCCESS else "recovery"
        attempt = instance.get_runs_count(filters) + 1
        requests.append(_request(campaign, attempt, trigger))
        notes.append(f"'{campaign.name}' ({campaign.status}): run {attempt} requested ({trigger}).")
    cursor.retry = {k: v for k, v in cursor.retry.items() if k in seen}
    return Plan(requests, notes, cursor)


@dg.sensor(
    name="scheduled_campaigns_sensor",
    job=send_campaign_job,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts scheduled campaigns when due and gives running campaigns a run when "
    "none drives them (resumed after a long pause, their run died, or a retry came due).",
)
def scheduled_campaigns_sensor(
    context: dg.SensorEvaluationContext, siaran: SiaranResource
) -> dg.SensorResult:
    app = siaran.build()
    try:
        with app.uow.session() as session:
            plan = plan_runs(
                session, context.instance, app.settings, utcnow(), Cursor.parse(context.cursor)
            )
    finally:
        app.engine.dispose()
    for note in plan.notes:
        context.log.info(note)
    idle = "No campaign is due; every running one has a sender or waits for a retry."
    skip = None if plan.requests else " ".join([idle, *plan.notes])
    return dg.SensorResult(run_requests=plan.requests, skip_reason=skip, cursor=plan.cursor.dump())
