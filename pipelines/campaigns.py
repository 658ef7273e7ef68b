"""Campaign jobs: ``send_campaign`` (one run drives one campaign) and message expiry.

Sending is an op job, not an asset: a run launches the campaign when it is a draft or due
(resolving its audience once into the outbox), then drives ``sender.run.run_campaign``
until the campaign completes, is cancelled or fails, or stays paused for
``core.sending.PAUSED_TIMEOUT_SECONDS`` (pause and resume are a status the send loop
polls; a resume after the run ended gets a new run from the sensor). A run also ends
("waiting") when only retries more than ``SIARAN_SENDER_PARK_SECONDS`` ahead are left
(131049 asks for hours): the campaign stays running and the sensor starts a new run when
the next one is due, so an idle run does not hold one of the instance's run slots. Progress
goes to the run's log every ``LOG_EVERY_SECONDS`` and to the op's output metadata at the end.

Dagster's op retries stay off (``dagster/max_retries`` 0): the outbox retries each failed
message itself, and re-running a whole launch is exactly what must never happen. Runs
carry the ``siaran/campaign`` tag, which the run queue limits to one run per campaign
(``docs/dagster.production.yaml``, ``cli/up.py``); the campaign's conditional status
transition is the real guard.
"""

# No ``from __future__ import annotations``: Dagster reads the ops' config and resource
# annotations at definition time and cannot resolve them from strings.

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from pydantic import Field

from core.campaigns import complete_if_finished, expire_messages
from core.errors import SiaranError
from core.sending import LOCAL_STOP_SECONDS, SEND_JOB, SEND_OP, SendOutcome, send_campaign
from pipelines.resources import SiaranResource

#: The run log gets a progress line at most this often (and at every status change).
LOG_EVERY_SECONDS = 10.0
JOIN_SECONDS = 0.5


class SendCampaignConfig(dg.Config):
    campaign_id: str = Field(description="The id of the campaign to send.")


@dataclass
class ProgressLog:
    """Takes the sender's progress from its thread; the op's thread writes it to the log."""

    latest: Any = None  # sender.progress.Progress
    first: Any = None
    logged_at: float = -1e9
    logged_status: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, progress: Any) -> None:
        with self.lock:
            self.latest = progress
            if self.first is None:
                self.first = progress

    def flush(self, context: dg.OpExecutionContext, *, force: bool = False) -> None:
        with self.lock:
            progress = self.latest
        if progress is None:
            return
        now = time.monotonic()
        changed = progress.status != self.logged_status
        if force or changed or now - self.logged_at >= LOG_EVERY_SECONDS:
            context.log.info(progress.describe())
            self.logged_at, self.logged_status = now, progress.status

    def average_rate(self) -> float:
        """Messages finished per second between the first and the last measurement."""
        if self.first is None or self.latest is None:
            return 0.0
        seconds = (self.latest.at - self.first.at).total_seconds()
        done = self.latest.done - self.first.done
        return done / seconds if seconds > 0 else self.latest.rate_per_second


def _drive(context: dg.OpExecutionContext, run: Any, progress: ProgressLog) -> SendOutcome:
    """Run ``run(stop_event)`` in a thread; Dagster's termination stops it gracefully.

    Dagster raises its interrupt in the op's thread; the sender then gets the stop signal,
    gives back its unsent claims and records the answers in flight before the run ends.
    """
    stop = threading.Event()
    done = threading.Event()  # not Thread.join: an interrupted join breaks it on 3.11
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = run(stop)
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="siaran-send-campaign", daemon=True).start()
    try:
        while not done.wait(JOIN_SECONDS):
            progress.flush(context)
    except BaseException:
        context.log.warning("Run interrupted: stopping the sender after its answers in flight.")
        stop.set()
        done.wait(LOCAL_STOP_SECONDS)
        raise
    if "error" in box:
        raise box["error"]
    return box["result"]


def _metadata(outcome: SendOutcome, progress: ProgressLog, seconds: float) -> dict[str, Any]:
    last = outcome.progress
    metadata: dict[str, Any] = {
        "campaign_id": str(outcome.campaign_id),
        "status": outcome.status,
        "ended_because": outcome.reason,
        "duration_seconds": dg.MetadataValue.float(round(seconds, 1)),
        "average_rate_per_second": dg.MetadataValue.float(round(progress.average_rate(), 2)),
    }
    if outcome.status_reason:
        metadata["status_reason"] = outcome.status_reason
    if outcome.next_due_at is not None:
        metadata["next_due_at"] = outcome.next_due_at.isoformat()
    if last is not None:
        metadata.update(
            {
                "progress": f"{last.sent:,}/{last.total:,} sent",
                "sent": last.sent,
                "total": last.total,
                "failed": last.failed,
                "queued": last.queued,
                "expired": last.expired,
                "cancelled": last.cancelled,
                "rate_per_second": dg.MetadataValue.float(round(last.rate_per_second, 2)),
                "eta_seconds": dg.MetadataValue.float(
                    round(last.eta_seconds, 1) if last.eta_seconds is not None else 0.0
                ),
            }
        )
    if outcome.launch is not None:
        metadata["recipients"] = outcome.launch.recipients
        metadata["excluded"] = dg.MetadataValue.json(outcome.launch.excluded)
    return metadata


@dg.op(
    name=SEND_OP,
    description="Launch the campaign if it is a draft or due, then send it until it ends.",
    tags={"kind": "whatsapp"},
)
def deliver_campaign(
    context: dg.OpExecutionContext, config: SendCampaignConfig, siaran: SiaranResource
) -> dg.Output[dict[str, Any]]:
    try:
        campaign_id = uuid.UUID(config.campaign_id)
    except ValueError:
        raise dg.Failure(
            f"campaign_id {config.campaign_id!r} is not a campaign id (a UUID).",
            allow_retries=False,
        ) from None
    app = siaran.build()
    progress = ProgressLog()
    started = time.monotonic()
    try:
        outcome = _drive(
            context,
            lambda stop: send_campaign(
                app,
                campaign_id,
                run_id=context.run_id,
                stop_event=stop,
                on_progress=progress,
                park_after=app.settings.sender_park_seconds or None,
            ),
            progress,
        )
    except SiaranError as exc:  # not found, not due, cannot be sent: say why, never retry
        raise dg.Failure(exc.message, allow_retries=False) from None
    finally:
        app.engine.dispose()
    progress.flush(context, force=True)
    if outcome.launch is not None:
        context.log.info(
            f"Launched to {outcome.launch.recipients:,} recipients; excluded "
            f"{outcome.launch.excluded} in {outcome.launch.seconds:.1f} s."
        )
        for warning in outcome.launch.warnings:
            context.log.warning(warning)
    metadata = _metadata(outcome, progress, time.monotonic() - started)
    if outcome.status == "failed":
        raise dg.Failure(
            f"The campaign failed: {outcome.status_reason or 'see its page'}",
            metadata=metadata,
            allow_retries=False,
        )
    if outcome.status == "paused":
        context.log.warning(
            f"The campaign is paused ({outcome.status_reason or 'by its owner'}); this run "
            "ends. Resume it in the app and a new run continues where it stopped."
        )
    summary = {"campaign_id": str(campaign_id), "status": outcome.status, "reason": outcome.reason}
    if outcome.reason == "waiting" and outcome.next_due_at is not None:
        context.log.info(
            f"Nothing is due before {outcome.next_due_at:%Y-%m-%d %H:%M:%S} UTC (retries "
            "WhatsApp asked to wait for); this run ends so it holds no run slot. The campaign "
            "stays running, and the campaign sensor starts a new run when they are due."
        )
        summary["next_due_at"] = outcome.next_due_at.isoformat()
    return dg.Output(summary, metadata=metadata)


@dg.job(
    name=SEND_JOB,
    description="Send one campaign: launch it if needed, then drive the throttled sender.",
    tags={"dagster/max_retries": "0"},
)
def send_campaign_job() -> None:
    deliver_campaign()


# --- expiry ---------------------------------------------------------------------------------


@dg.op(description="Mark unsent messages of campaigns past their deadline expired.")
def expire_stale_messages(
    context: dg.OpExecutionContext, siaran: SiaranResource
) -> dg.Output[dict[str, int]]:
    app = siaran.build()
    try:
        with app.uow.begin() as session:
            expired = expire_messages(session)
            # With nothing left to send, a running campaign is done even if no run drives it.
            completed = [
                campaign_id
                for campaign_id in expired
                if complete_if_finished(session, campaign_id, settings=app.settings)
            ]
    finally:
        app.engine.dispose()
    for campaign_id, count in expired.items():
        context.log.info(f"campaign {campaign_id}: {count:,} unsent messages expired")
    summary = {str(campaign_id): count for campaign_id, count in expired.items()}
    return dg.Output(
        summary,
        metadata={
            "campaigns": len(expired),
            "messages_expired": sum(expired.values()),
            "campaigns_completed": len(completed),
        },
    )


@dg.job(
    name="expire_campaign_messages",
    description="Expire unsent messages of campaigns whose deadline passed.",
)
def expire_campaign_messages_job() -> None:
    expire_stale_messages()


campaign_expiry_schedule = dg.ScheduleDefinition(
    name="campaign_expiry_schedule",
    job=expire_campaign_messages_job,
    cron_schedule="*/5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 5 minutes: messages past their campaign's deadline become expired.",
)
