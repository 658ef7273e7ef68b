"""Getting campaigns sent: what drives a launched campaign, and how "Send now" asks for it.

A launched campaign is sent by a *driver*: ``send_campaign`` (launch if needed, then
``sender.run.run_campaign`` until the campaign ends) running in some process. After "Send
now" or "Resume", ``request_send`` makes sure one exists::

    a live sender already serves the campaign     -> nothing to do          ("already")
    Dagster is configured (SIARAN_DAGSTER_URL, or  -> a ``send_campaign`` run
      DAGSTER_HOME and the webserver's port)         submitted over GraphQL  ("dagster")
    no Dagster, or its webserver cannot be reached -> a thread of this process ("local")

Why GraphQL and not ``DagsterInstance.submit_run``: a run the daemon can launch needs the
job's snapshot and code origin, so submitting through the instance means loading the code
location (a gRPC server or the whole workspace) inside the API process. The webserver
already holds the workspace and its GraphQL API is Dagster's stable, public way for another
process to launch a job; when it is down, the local thread still gets the campaign sent.

Two drivers for one campaign would be wasteful, never harmful: the campaign's conditional
status transition lets exactly one launch happen, and each message is claimed by one
sender at a time. The checks here (live workers, the local registry) are economy, and the
Dagster run queue's ``siaran/campaign`` tag limit is a further fence.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.bootstrap import Siaran
from core.campaigns import LaunchReport, launch_campaign, local_time, start_due_campaign
from core.campaigns.lifecycle import state
from core.campaigns.service import load
from core.dagster_runs import dagster_url, submit_run
from core.errors import Conflict, InvalidInput
from core.permissions import SYSTEM_ACTOR
from core.settings import Settings
from sql.schema import Campaign, SenderWorker
from sql.types import utcnow

if TYPE_CHECKING:
    from sender.progress import Progress

log = logging.getLogger("siaran.sending")

#: The Dagster job, its op and the run tags; ``pipelines.campaigns`` defines them by these.
SEND_JOB = "send_campaign"
SEND_OP = "deliver_campaign"
CAMPAIGN_TAG = "siaran/campaign"
TRIGGER_TAG = "siaran/trigger"
#: A driver whose campaign stays paused this long ends; a resume starts a new one.
PAUSED_TIMEOUT_SECONDS = 600.0
#: How long a local driver may take to finish its answers in flight when the process exits.
LOCAL_STOP_SECONDS = 40.0

Via = Literal["already", "dagster", "local"]


def run_config(campaign_id: uuid.UUID) -> dict[str, Any]:
    """The ``send_campaign`` job's run config for one campaign."""
    return {"ops": {SEND_OP: {"config": {"campaign_id": str(campaign_id)}}}}


def run_tags(campaign_id: uuid.UUID, trigger: str) -> dict[str, str]:
    """Tags of a ``send_campaign`` run: the campaign (the queue's per-campaign limit), why."""
    return {CAMPAIGN_TAG: str(campaign_id), TRIGGER_TAG: trigger}


# --- what every driver runs ---------------------------------------------------------------


@dataclass(frozen=True)
class SendOutcome:
    """How a driver's work on a campaign ended."""

    campaign_id: uuid.UUID
    launch: LaunchReport | None  # set when this driver launched the campaign
    status: str  # the campaign's status at the end
    reason: str  # why the driver stopped: completed, cancelled, failed, paused, waiting, ...
    status_reason: str | None
    progress: Progress | None  # the last figures measured
    next_due_at: datetime | None = None  # ended "waiting": when the next message is due


def start_if_due(
    siaran: Siaran,
    campaign_id: uuid.UUID,
    *,
    run_id: str | None = None,
    now: datetime | None = None,
) -> LaunchReport | None:
    """Launch a draft, or a scheduled campaign whose time has come, as Siaran itself.

    Running, paused and ended campaigns are left as they are (None). A scheduled campaign
    that can no longer be sent goes back to draft with the reason (its owners are told)
    and InvalidInput is raised with it; one not yet due is a Conflict.
    """
    now = now or utcnow()
    with siaran.uow.begin() as session:
        campaign = load(session, campaign_id)
        if campaign.status == "draft":
            return launch_campaign(
                session, SYSTEM_ACTOR, campaign_id, settings=siaran.settings, now=now, run_id=run_id
            )
        if campaign.status != "scheduled":
            return None
        assert campaign.scheduled_at is not None
        if campaign.scheduled_at > now:
            when = local_time(campaign)
            raise Conflict(
                f"Campaign '{campaign.name}' is scheduled for {when:%Y-%m-%d %H:%M} "
                f"{campaign.timezone}; it starts then. Send it now from the app instead."
            )
        report = start_due_campaign(
            session, campaign_id, settings=siaran.settings, now=now, run_id=run_id
        )
    if report is None:
        with siaran.uow.session() as session:
            campaign = load(session, campaign_id)
            if campaign.status == "draft":
                raise InvalidInput(campaign.status_reason or f"'{campaign.name}' did not start.")
    return report


def send_campaign(
    siaran: Siaran,
    campaign_id: uuid.UUID,
    *,
    run_id: str | None = None,
    stop_event: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    paused_timeout: float | None = PAUSED_TIMEOUT_SECONDS,
    park_after: float | None = None,
) -> SendOutcome:
    """Launch the campaign if it is a draft or due, then send it until it ends.

    Ends early when ``stop_event`` is set, when the campaign stays paused for
    ``paused_timeout`` seconds (unless it was resumed at that very moment), or, given
    ``park_after``, when nothing of the running campaign is due for longer than that
    (reason "waiting", see ``sender.run``): only for a caller that starts another driver
    when the next message comes due, as the campaign sensor does for Dagster runs.
    """
    from sender.run import run_campaign  # the sender pulls in aiohttp; only drivers need it

    stop_event = stop_event or threading.Event()
    launch = start_if_due(siaran, campaign_id, run_id=run_id)
    while True:
        report = run_campaign(
            siaran,
            campaign_id,
            stop_event=stop_event,
            on_progress=on_progress,
            paused_timeout=paused_timeout,
            park_after=park_after,
        )
        # A resume racing the pause timeout: keep going rather than leave it undriven.
        if report.reason != "paused" or report.status != "running" or stop_event.is_set():
            break
    return SendOutcome(
        campaign_id,
        launch,
        report.status,
        report.reason,
        report.status_reason,
        report.progress,
        report.next_due_at,
    )


# --- is someone sending it already? -----------------------------------------------------


def _alive_here(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def live_senders(
    session: Session, campaign: Campaign, settings: Settings, now: datetime
) -> list[str]:
    """Ids of sender workers serving the campaign (or its whole number) with a fresh heartbeat."""
    from sender.workers import HOSTNAME

    cutoff = now - timedelta(seconds=settings.sender_worker_timeout_seconds)
    serving = SenderWorker.campaign_id == campaign.id
    if campaign.whatsapp_account_id is not None:
        number_wide = and_(
            SenderWorker.campaign_id.is_(None),
            SenderWorker.account_id == campaign.whatsapp_account_id,
        )
        serving = or_(serving, number_wide)
    rows = session.scalars(
        select(SenderWorker).where(
            SenderWorker.stopped_at.is_(None), SenderWorker.heartbeat_at >= cutoff, serving
        )
    ).all()
    # A worker of this machine whose process is gone (kill -9) is dead whatever its beat says.
    return [r.id for r in rows if r.hostname != HOSTNAME or _alive_here(r.pid)]


# --- asking for a driver --------------------------------------------------------------------


@dataclass(frozen=True)
class SendRequest:
    """What ``request_send`` did."""

    campaign_id: uuid.UUID
    via: Via
    run_id: str | None  # the Dagster run, when submitted there
    detail: str  # one sentence for the owner


def submit_dagster_run(url: str, campaign_id: uuid.UUID, trigger: str) -> str:
    """Submit a ``send_campaign`` run through the webserver's GraphQL API; its run id."""
    return submit_run(
        url, SEND_JOB, run_config=run_config(campaign_id), tags=run_tags(campaign_id, trigger)
    )


def request_send(
    siaran: Siaran, campaign_id: uuid.UUID, *, trigger: str = "send_now"
) -> SendRequest:
    """Make sure the running campaign has a driver (see the module docstring)."""
    settings = siaran.settings
    with siaran.uow.session() as session:
        campaign = load(session, campaign_id)
        if campaign.status != "running":
            raise Conflict(
                f"Campaign '{campaign.name}' is {state(campaign.status)}; only running campaigns "
                "are sent (send it now, or resume it, first)."
            )
        busy = live_senders(session, campaign, settings, utcnow())
    if busy or _local_running(campaign_id):
        return SendRequest(campaign_id, "already", None, "A sender is already sending it.")
    url = dagster_url(settings)
    if url is not None:
        try:
            run_id = submit_dagster_run(url, campaign_id, trigger)
        except Exception as exc:  # any failure to reach Dagster: still send it
            log.warning(
                "Could not submit campaign %s to Dagster at %s (%s); sending it from this "
                "process instead.", campaign_id, url, exc,
            )  # fmt: skip
        else:
            log.info("campaign %s: Dagster run %s submitted (%s)", campaign_id, run_id, trigger)
            return SendRequest(campaign_id, "dagster", run_id, f"Dagster run {run_id} sends it.")
    start_local(siaran, campaign_id)
    return SendRequest(campaign_id, "local", None, "This server is sending it.")


# --- local drivers: threads of this process ---------------------------------------------------


@dataclass
class _Local:
    thread: threading.Thread
    stop: threading.Event


_local: dict[uuid.UUID, _Local] = {}
_lock = threading.Lock()
_exit_hook = False


def _local_running(campaign_id: uuid.UUID) -> bool:
    with _lock:
        driver = _local.get(campaign_id)
        return driver is not None and driver.thread.is_alive()


def start_local(siaran: Siaran, campaign_id: uuid.UUID) -> bool:
    """Send the campaign from a thread of this process; False if one already does."""
    global _exit_hook
    with _lock:
        driver = _local.get(campaign_id)
        if driver is not None and driver.thread.is_alive():
            return False
        stop = threading.Event()
        thread = threading.Thread(
            target=_drive_locally,
            args=(siaran, campaign_id, stop),
            name=f"siaran-send-{campaign_id.hex[:8]}",
            daemon=True,  # the process may exit; atexit lets it finish its answers first
        )
        _local[campaign_id] = _Local(thread, stop)
        if not _exit_hook:
            atexit.register(stop_local_drivers)
            _exit_hook = True
        thread.start()
        return True


def _drive_locally(siaran: Siaran, campaign_id: uuid.UUID, stop: threading.Event) -> None:
    try:
        # Never parks: nothing would start this thread again when a retry comes due.
        outcome = send_campaign(
            siaran, campaign_id, stop_event=stop, on_progress=_log_progress, park_after=None
        )
        log.info("campaign %s: local sender ended (%s, %s)", campaign_id, outcome.status,
                 outcome.reason)  # fmt: skip
    except (Conflict, InvalidInput) as exc:
        log.warning("campaign %s was not sent: %s", campaign_id, exc.message)
    except Exception:
        # The campaign stays running; Dagster's sensor (if any) or a resume picks it up.
        log.exception("campaign %s: the local sender failed", campaign_id)
    finally:
        with _lock:
            driver = _local.get(campaign_id)
            if driver is not None and driver.thread is threading.current_thread():
                del _local[campaign_id]


def _log_progress(progress: Progress) -> None:
    log.info("campaign %s: %s", progress.campaign_id, progress.describe())


def stop_local_drivers(timeout: float = LOCAL_STOP_SECONDS) -> int:
    """Stop this process's local senders, waiting up to ``timeout``; how many still run."""
    with _lock:
        drivers = list(_local.values())
    for driver in drivers:
        driver.stop.set()
    deadline = time.monotonic() + timeout
    for driver in drivers:
        driver.thread.join(max(0.0, deadline - time.monotonic()))
    return sum(1 for d in drivers if d.thread.is_alive())
