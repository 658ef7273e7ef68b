"""The send loop: one WhatsApp number's running campaigns, paced, fair and crash-safe.

One ``Sender`` per phone number and process. Its dispatch loop is the heart::

    while not finished:
        wait for a free connection
        ask the gate which campaign may send now (number cap, campaign rate, round-robin)
        post that campaign's next claimed message (a task; the answer is queued)

Around it, three helpers:

- claims: when a campaign's buffer runs low, a batch of its due pending messages is
  claimed (marked ``sending`` for this worker and committed) before any is posted;
- results: every 0.1 s the answers are written in one transaction (sent with the wamid,
  retry later, failed with Meta's code, unconfirmed, or campaign-fatal, which pauses);
- control: every 0.25 s the campaigns' statuses and rates are read, so pause, resume,
  cancel and rate changes apply within a second; every heartbeat the worker beats, dead
  workers' claims are released for reconciliation, unconfirmed sends past their grace are
  requeued, and each worker's share of the rates is recomputed; progress is saved every
  two seconds; the quality circuit breaker watches the counters.

All database work runs on one thread of its own (``sender.store``), so commits never stall
the pacing. Claimed messages that were never posted go back to pending whenever a campaign
stops sending here (pause, cancel, expiry, shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from core.bootstrap import Siaran
from core.errors import InvalidInput
from core.settings import ConfigurationError
from sender import store
from sender.cloud_api import CloudApiClient
from sender.control import Control
from sender.errors import CloudApiError, ThrottledError
from sender.lanes import Lane, ProgressCallback, Tuning
from sender.outbox import Claimed
from sender.policy import decide
from sender.rate import CATCH_UP, IDLE, MAX_WINDOW, STALL, FairGate, JitterGuard
from sender.results import ErrorRecord, Outcome
from sender.workers import Peers, new_worker_id
from sql.types import utcnow

log = logging.getLogger("siaran.sender")
T = TypeVar("T")
FLUSH_BATCH = 1_000  # answers per transaction
UNRECORDED_LIMIT = 5_000  # answers waiting to be recorded before sending stops


class Sender(Control):
    """Drives the campaigns of one phone number (or one campaign) until told to stop."""

    def __init__(
        self,
        siaran: Siaran,
        account_id: uuid.UUID,
        *,
        worker_id: str | None = None,
        campaign_id: uuid.UUID | None = None,
        stop_event: threading.Event | None = None,
        on_progress: ProgressCallback | None = None,
        paused_timeout: float | None = None,
        park_after: float | None = None,
        tuning: Tuning | None = None,
    ) -> None:
        self.siaran = siaran
        self.settings = siaran.settings
        self.account_id = account_id
        self.worker_id = worker_id or new_worker_id()
        self.campaign_id = campaign_id
        self.stop_event = stop_event or threading.Event()
        self.on_progress = on_progress
        self.paused_timeout = paused_timeout
        if park_after is not None and campaign_id is None:
            raise ValueError("only a sender of one campaign parks (park_after needs campaign_id)")
        self.park_after = park_after
        self.next_due_at = None
        self.tuning = tuning or Tuning()
        if self.settings.sender_heartbeat_seconds * 2 > self.settings.sender_worker_timeout_seconds:
            raise ConfigurationError(
                "SIARAN_SENDER_WORKER_TIMEOUT_SECONDS must be at least twice "
                "SIARAN_SENDER_HEARTBEAT_SECONDS, or live workers would be declared dead."
            )
        self.lanes: dict[uuid.UUID, Lane] = {}
        self.end_reason: str | None = None
        self._uow = siaran.uow
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sender-db")
        self._gate: FairGate[uuid.UUID] = FairGate(1)
        self._jitter = JitterGuard()
        self._client: CloudApiClient | None = None
        self._credentials: store.Credentials | None = None
        self._old_clients: list[CloudApiClient] = []
        self._max_in_flight = 16
        self._in_flight = 0
        self._flying: dict[uuid.UUID, Claimed] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._outcomes: list[Outcome] = []
        self._wake = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._finished = False
        self._next_beat = 0.0
        self._next_progress = 0.0
        self._peers = Peers([self.worker_id], {campaign_id: 1})
        self._error: BaseException | None = None

    # --- running ------------------------------------------------------------------------

    async def run(self) -> str:
        """Send until finished; returns why it ended ("stopped", "completed", ...)."""
        try:
            await self._db(
                store.register, self.worker_id, self.account_id, self.campaign_id, utcnow()
            )
            found = await self._beat()
            if found.peers.number_share > 1:  # let the others lower their share first
                await asyncio.sleep(self.settings.sender_heartbeat_seconds * 1.2)
            elif found.dead:  # a crashed worker (restarted at once?) may have sent just now
                await asyncio.sleep(MAX_WINDOW)
            helpers: list[asyncio.Task[Any]] = []
            try:
                await self._control()
                helpers = [
                    self._spawn(self._repeat(self.tuning.poll_seconds, self._control)),
                    self._spawn(self._repeat(self.tuning.flush_seconds, self._flush)),
                ]
                await self._dispatch()
            finally:
                await self._shutdown(helpers)
        finally:
            self._executor.shutdown(wait=True)
        if self._error is not None:
            raise self._error
        return self.end_reason or "stopped"

    async def _dispatch(self) -> None:
        """The send loop (see the module docstring)."""
        while not self._finished:
            self._wake.clear()
            if len(self._outcomes) >= UNRECORDED_LIMIT:
                # Answers are not being recorded (the database is slow or away): sending
                # more would only widen what a crash now leaves to reconcile.
                await asyncio.sleep(self.tuning.flush_seconds)
                continue
            if self._in_flight >= self._max_in_flight:
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            now = time.monotonic()
            campaign_id, wait = self._gate.pick(now, self._ready)
            if campaign_id is None:
                if wait < IDLE:
                    await asyncio.sleep(wait)
                    self._check_stall(now, now + wait)
                elif not await self._nap(wait):  # nothing ready: until a claim lands
                    self._check_stall(now, now + wait)
                continue
            lane = self.lanes[campaign_id]
            message = lane.buffer.popleft()
            lane.in_flight += 1
            self._in_flight += 1
            self._flying[message.id] = message
            self._spawn(self._send(lane, message))
            self._refill(lane)

    def _ready(self, campaign_id: uuid.UUID) -> bool:
        lane = self.lanes.get(campaign_id)
        return lane is not None and lane.ready()

    async def _nap(self, seconds: float) -> bool:
        """Sleep until woken (True) or for ``seconds`` (False)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
            return True
        return False

    def _check_stall(self, slept_at: float, meant_to_wake: float) -> None:
        now = time.monotonic()
        late = now - meant_to_wake
        self._jitter.observe(now, late)
        if late > STALL:  # sends granted just before may only now be leaving
            self._gate.stalled(slept_at - CATCH_UP, late)

    async def _send(self, lane: Lane, message: Claimed) -> None:
        assert self._client is not None
        try:
            result = await self._client.send(
                message.payload, biz_opaque_callback_data=str(message.id)
            )
            outcome = Outcome(message, "sent", utcnow(), wamid=result.wamid)
        except CloudApiError as error:
            outcome = self._after_error(lane, message, error)
        except InvalidInput as exc:  # the stored body is unusable: no retry can fix it
            record = ErrorRecord(None, "recipient", "Invalid message", exc.message)
            outcome = Outcome(message, "failed", utcnow(), error=record)
        except Exception as exc:  # a bug: the request may have gone out, so do not resend
            log.exception("unexpected error sending message %s", message.id)
            record = ErrorRecord(None, "transient", type(exc).__name__, f"Unexpected: {exc}")
            deadline = utcnow() + self._grace
            outcome = Outcome(message, "unconfirmed", utcnow(), record, next_attempt_at=deadline)
        finally:
            lane.in_flight -= 1
            self._in_flight -= 1
            self._flying.pop(message.id, None)
            self._slot_free.set()
        self._outcomes.append(outcome)

    def _after_error(self, lane: Lane, message: Claimed, error: CloudApiError) -> Outcome:
        now = utcnow()
        decision = decide(
            error,
            message.attempts,
            now,
            max_attempts=self.settings.sender_max_attempts,
            reconcile_grace=self.settings.sender_reconcile_grace_seconds,
        )
        slows = isinstance(error, ThrottledError) and error.slows_sender
        if slows and self._gate.slow_down(time.monotonic()):
            log.warning("WhatsApp throttled the number (%s): slowing down", error.code)
        if decision.verdict == "fatal" and not lane.halted:
            lane.halt(time.monotonic())
            log.warning("campaign %s: campaign-fatal error: %s", lane.name, error)
        return Outcome(
            message,
            decision.verdict,
            now,
            error=ErrorRecord.of(error, decision.gave_up),
            next_attempt_at=decision.next_attempt_at,
            opted_out=decision.opted_out,
        )

    # --- claims ---------------------------------------------------------------------------

    @property
    def _grace(self) -> timedelta:
        return timedelta(seconds=self.settings.sender_reconcile_grace_seconds)

    def _batch_size(self, lane: Lane) -> int:
        pace = min(self._lane_rate(lane), self._gate.cap)
        wanted = math.ceil(pace * self.tuning.buffer_seconds)
        return max(self.tuning.min_batch, min(self.tuning.max_batch, wanted))

    def _refill(self, lane: Lane) -> None:
        if not lane.active or lane.halted or lane.claiming or self._finished:
            return
        empty_at = lane.found_empty_at
        if empty_at is not None and time.monotonic() - empty_at < self.tuning.empty_claim_pause:
            return
        size = self._batch_size(lane)
        if len(lane.buffer) > size // 2:
            return
        lane.claiming = True
        self._spawn(self._claim(lane, size - len(lane.buffer)))

    async def _claim(self, lane: Lane, limit: int) -> None:
        claimed: list[Claimed] = []
        try:
            claimed = await self._db(store.claim, lane.campaign_id, self.worker_id, limit, utcnow())
        except SQLAlchemyError:
            log.exception("claiming messages of campaign %s failed", lane.name)
        finally:
            lane.claiming = False
        if not lane.active or lane.halted or self._finished:
            if claimed:
                await self._db(store.release, [m.id for m in claimed], self.worker_id, utcnow())
            return
        lane.found_empty_at = None if claimed else time.monotonic()
        lane.buffer.extend(claimed)
        self._wake.set()

    async def _release(self, lane: Lane) -> None:
        """Give back what this lane claimed but never posted."""
        ids = [m.id for m in lane.buffer]
        lane.buffer.clear()
        if ids:
            await self._db(store.release, ids, self.worker_id, utcnow())

    # --- results --------------------------------------------------------------------------

    async def _flush(self) -> None:
        """Record the answers, at most ``FLUSH_BATCH`` per transaction."""
        while self._outcomes:
            batch = self._outcomes[:FLUSH_BATCH]
            del self._outcomes[:FLUSH_BATCH]
            try:
                await self._db(store.write_outcomes, batch, self.settings, utcnow())
            except IntegrityError:
                await self._flush_one_by_one(batch)
            except SQLAlchemyError:  # out of reach, or a deadlock victim: again next time
                log.exception("recording %d answers failed; retrying", len(batch))
                self._outcomes[:0] = batch
                return

    async def _flush_one_by_one(self, batch: list[Outcome]) -> None:
        """A batch the database refused: write what it accepts, log what it does not.

        A refused answer leaves its message ``sending``; once this worker stops, its claim
        is released and the message is reconciled from its webhook like after a crash.
        """
        for outcome in batch:
            try:
                await self._db(store.write_outcomes, [outcome], self.settings, utcnow())
            except IntegrityError:
                log.exception("the answer for message %s cannot be recorded", outcome.message.id)

    # --- control ------------------------------------------------------------------------

    def _finish(self, reason: str) -> None:
        if not self._finished:
            self._finished = True
            self.end_reason = reason
            self._wake.set()
            self._slot_free.set()

    # --- plumbing -------------------------------------------------------------------------

    async def _shutdown(self, helpers: list[asyncio.Task[Any]]) -> None:
        """Give back unsent claims, wait for answers in flight, write everything down."""
        self._finished = True
        for lane in self.lanes.values():
            await self._release(lane)
        sends = [t for t in self._tasks if t not in helpers]
        if sends:
            await asyncio.wait(sends, timeout=self.tuning.drain_timeout)
        for helper in helpers:
            helper.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        for message in list(self._flying.values()):  # no answer in time: may have gone out
            record = ErrorRecord(None, "transient", None, "Siaran stopped before an answer came.")
            self._outcomes.append(
                Outcome(message, "unconfirmed", utcnow(), error=record,
                        next_attempt_at=utcnow() + self._grace)
            )  # fmt: skip
        await self._flush()
        if self._outcomes:
            log.error("%d answers were not recorded; reconciled later", len(self._outcomes))
        await self._report(time.monotonic(), every_lane=True)
        await self._db(store.stop, self.worker_id, utcnow())
        for client in [*self._old_clients, self._client]:
            if client is not None:
                await client.aclose()

    async def _repeat(self, every: float, step: Callable[[], Any]) -> None:
        while not self._finished:
            await asyncio.sleep(every)
            try:
                await step()
            except SQLAlchemyError:
                log.exception("the sender's %s step failed; retrying", step.__name__)

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sender task failed", exc_info=task.exception())
            self._error = self._error or task.exception()
            self._finish("error")

    async def _db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, partial(function, self._uow, *args, **kwargs)
        )
