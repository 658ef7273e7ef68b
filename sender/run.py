"""Entry points: drive one campaign (a Dagster op, ``siaran send``) or serve them all
(``siaran worker``).

``run_campaign`` sends one launched campaign until it completes, is cancelled or fails,
waiting while it is paused (a resume takes effect within a second, in the same run); give
``paused_timeout`` to return after a pause lasts that long instead. Give ``park_after`` to
return ("waiting", the campaign still running) when nothing is due for longer than that,
only retries WhatsApp asked to wait hours for being left: a caller that starts another run
when they come due (the Dagster op, with the campaign sensor) then holds no run slot
meanwhile. Without it the run waits for them, as ``siaran send`` must: nobody would start
it again. ``run_worker`` serves every running campaign of every connected number, one
``Sender`` per number, sharing each number's cap fairly, until ``stop_event`` is set. Both
are synchronous wrappers around an async core (``*_async``) and may run alongside each
other and on several machines: claims, heartbeats and per-worker rate shares keep them
from sending twice or too fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select

from core.bootstrap import Siaran
from core.campaigns import pause_campaign
from core.errors import Conflict, NotFound
from core.permissions import SYSTEM_ACTOR
from core.whatsapp import active_account
from sender.lanes import ProgressCallback, Tuning
from sender.loop import Sender
from sender.progress import Progress
from sender.workers import new_worker_id
from sql.schema import Campaign, WhatsAppAccount

log = logging.getLogger("siaran.sender")
T = TypeVar("T")
WORKER_DISCOVERY_SECONDS = 1.0


@dataclass(frozen=True)
class RunReport:
    """How a ``run_campaign`` ended."""

    campaign_id: uuid.UUID
    status: str  # the campaign's status at the end
    reason: str  # why the run ended: completed, cancelled, failed, paused, waiting, stopped, ...
    status_reason: str | None
    progress: Progress | None
    next_due_at: datetime | None = None  # ended "waiting": when the next message is due


def _campaign(siaran: Siaran, campaign_id: uuid.UUID) -> Campaign:
    with siaran.uow.session() as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFound(f"Campaign {campaign_id} does not exist.")
        return campaign


def _sending_account(siaran: Siaran, campaign: Campaign) -> uuid.UUID | None:
    """The campaign's account; the active one when it has none (it was deleted)."""
    chosen = campaign.whatsapp_account_id
    with siaran.uow.begin() as session:
        if chosen is not None and session.get(WhatsAppAccount, chosen) is not None:
            return chosen
        account = active_account(session)
        if account is not None:
            return account.id
        if campaign.status == "running":
            with contextlib.suppress(Conflict):
                pause_campaign(
                    session, SYSTEM_ACTOR, campaign.id, settings=siaran.settings,
                    reason="No WhatsApp account is connected. Connect one in WhatsApp account "
                    "settings, then resume the campaign.",
                )  # fmt: skip
        return None


async def run_campaign_async(
    siaran: Siaran,
    campaign_id: uuid.UUID,
    *,
    worker_id: str | None = None,
    stop_event: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    paused_timeout: float | None = None,
    park_after: float | None = None,
    tuning: Tuning | None = None,
) -> RunReport:
    """Send the campaign until it ends (see the module docstring)."""
    stop_event = stop_event or threading.Event()
    worker_id = worker_id or new_worker_id()
    last: list[Progress] = []

    def progressed(progress: Progress) -> None:
        last[:] = [progress]
        if on_progress is not None:
            on_progress(progress)

    reason = "stopped"
    next_due_at: datetime | None = None
    while not stop_event.is_set():
        campaign = _campaign(siaran, campaign_id)
        if campaign.status in ("draft", "scheduled"):
            raise Conflict(
                f"Campaign '{campaign.name}' is {campaign.status}; launch it before sending."
            )
        if campaign.status in ("completed", "cancelled", "failed"):
            reason = campaign.status
            break
        account_id = _sending_account(siaran, campaign)
        if account_id is None:
            reason = "no_account"
            if paused_timeout is not None:
                break
            await asyncio.sleep(1.0)  # paused with the reason; wait for a reconnect
            continue
        sender = Sender(
            siaran,
            account_id,
            worker_id=worker_id,
            campaign_id=campaign_id,
            stop_event=stop_event,
            on_progress=progressed,
            paused_timeout=paused_timeout,
            park_after=park_after,
            tuning=tuning,
        )
        reason = await sender.run()
        next_due_at = sender.next_due_at if reason == "waiting" else None
        if reason != "account_changed":  # resumed on another number: start over with it
            break
    campaign = _campaign(siaran, campaign_id)
    return RunReport(
        campaign_id,
        campaign.status,
        reason,
        campaign.status_reason,
        last[0] if last else None,
        next_due_at,
    )


def run_campaign(
    siaran: Siaran,
    campaign_id: uuid.UUID,
    *,
    worker_id: str | None = None,
    stop_event: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    paused_timeout: float | None = None,
    park_after: float | None = None,
    tuning: Tuning | None = None,
) -> RunReport:
    """``run_campaign_async`` for synchronous callers (Dagster ops, the CLI)."""
    return run_sync(
        run_campaign_async(
            siaran,
            campaign_id,
            worker_id=worker_id,
            stop_event=stop_event,
            on_progress=on_progress,
            paused_timeout=paused_timeout,
            park_after=park_after,
            tuning=tuning,
        )
    )


def _accounts_with_campaigns(siaran: Siaran) -> list[uuid.UUID]:
    with siaran.uow.session() as session:
        return list(
            session.scalars(
                select(Campaign.whatsapp_account_id)
                .where(
                    Campaign.status.in_(("running", "paused")),
                    Campaign.whatsapp_account_id.is_not(None),
                )
                .distinct()
            )
        )


async def run_worker_async(
    siaran: Siaran,
    *,
    worker_id: str | None = None,
    account_id: uuid.UUID | None = None,
    stop_event: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    tuning: Tuning | None = None,
) -> None:
    """Serve the running campaigns of ``account_id`` (default: every number) until stopped."""
    stop_event = stop_event or threading.Event()
    base = worker_id or new_worker_id()
    senders: dict[uuid.UUID, asyncio.Task[str]] = {}
    started = 0
    try:
        while not stop_event.is_set():
            wanted = (
                [account_id]
                if account_id
                else await asyncio.to_thread(_accounts_with_campaigns, siaran)
            )
            for number in wanted:
                task = senders.get(number)
                if task is not None and task.done():
                    task.result()  # a sender that crashed: raise its error
                    del senders[number]
                if number not in senders:
                    sender = Sender(
                        siaran,
                        number,
                        worker_id=base if not started else f"{base}#{started}",
                        stop_event=stop_event,
                        on_progress=on_progress,
                        tuning=tuning,
                    )
                    senders[number] = asyncio.create_task(sender.run())
                    started += 1
            await asyncio.sleep(WORKER_DISCOVERY_SECONDS)
    finally:
        stop_event.set()
        if senders:
            await asyncio.gather(*senders.values())


def run_worker(
    siaran: Siaran,
    *,
    worker_id: str | None = None,
    account_id: uuid.UUID | None = None,
    stop_event: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    tuning: Tuning | None = None,
) -> None:
    """``run_worker_async`` for synchronous callers."""
    run_sync(
        run_worker_async(
            siaran,
            worker_id=worker_id,
            account_id=account_id,
            stop_event=stop_event,
            on_progress=on_progress,
            tuning=tuning,
        )
    )


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on a fresh event loop (uvloop when installed), in a thread if one is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run(coroutine)
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(_run(coroutine))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="siaran-sender")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    # Full garbage collections stop the process for up to ~0.2 s at 1,000 msg/s, and a
    # stall between a grant and its request widens the rate window. Objects that exist
    # before the run (modules, the engine, caches) need no scanning: freeze them meanwhile.
    gc.freeze()
    try:
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
            return asyncio.run(coroutine)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coroutine)
    finally:
        gc.unfreeze()
