"""The receiver's background half: group commits for storing, a worker for processing.

The HTTP handler checks a POST and calls ``store(body)``; a writer thread takes every body
waiting at that moment and inserts them in one transaction, then answers each waiting
request (so concurrent POSTs share one commit, and Meta hears 200 only once its body is
stored). Stored bodies go to a processing thread that applies them in batches (many
events per transaction) right after; the 200 never waits for processing.

If the queue to the processor overflows, or the server stops before processing, the
events stay ``received`` in the database and the retry job takes them (see
``core.webhooks.processing``). Counts of what came in and what was turned away are kept
here, per process, for ``/api/webhooks/stats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from core.bootstrap import Siaran
from core.optouts import ConsentChange
from core.webhooks.intake import Body, Stored, store_events
from core.webhooks.processing import BatchReport, Event, process_safely, write_lock_for
from sql.types import utcnow

log = logging.getLogger("siaran.webhooks")
MAX_STORE_BATCH = 500
MAX_STORE_BYTES = 16 * 1024 * 1024
#: The processor waits this long after an event for more, to apply them together.
PROCESS_LINGER = 0.02
#: Bodies waiting for the processor in memory; past this they wait in the database only.
MAX_QUEUED_BYTES = 256 * 1024 * 1024
T = TypeVar("T")
# Who waits for a body to be stored: a thread (concurrent future) or a request (loop future).
_Waiter = Future[Stored] | asyncio.Future[Stored]


@dataclass(frozen=True)
class ReceiverCounts:
    """What this process's receiver saw since ``since``."""

    since: datetime
    accepted: int
    duplicates: int
    rejected: dict[str, int]
    updates_received: int
    events_processed: int
    events_failed: int
    queued: int


class WebhookReceiver:
    """Stores webhook bodies in shared transactions and processes them in the background."""

    def __init__(
        self,
        siaran: Siaran,
        *,
        batch_events: int = 100,
        batch_updates: int = 250,
    ) -> None:
        self.siaran = siaran
        self._batch_events = batch_events
        self._batch_updates = batch_updates
        self._store_queue: queue.SimpleQueue[tuple[Body, _Waiter] | None] = queue.SimpleQueue()
        self._process_queue: queue.SimpleQueue[Stored | None] = queue.SimpleQueue()
        self._queued_bytes = 0
        self._queued_lock = threading.Lock()
        self._lock = write_lock_for(siaran)
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._since = utcnow()
        self._threads: list[threading.Thread] = []
        self._confirmations: ThreadPoolExecutor | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        self._threads = [
            threading.Thread(target=self._store_loop, name="webhook-store", daemon=True),
            threading.Thread(target=self._process_loop, name="webhook-process", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued (within ``timeout``); the rest stays stored for the retry job."""
        if not self._threads:
            return
        store, process = self._threads
        self._store_queue.put(None)
        store.join(timeout)
        self._process_queue.put(None)
        process.join(timeout)
        if self._confirmations is not None:
            self._confirmations.shutdown(wait=True, cancel_futures=False)
        self._threads = []

    # --- the HTTP handler's side ----------------------------------------------------------

    def store(self, body: Body) -> Future[Stored]:
        """Queue ``body`` for storing; the future resolves once it is committed."""
        future: Future[Stored] = Future()
        self._store_queue.put((body, future))
        return future

    async def store_async(self, body: Body, timeout: float) -> Stored:
        """``store`` for the event loop: one wake-up per stored batch, not per body.

        TimeoutError when the database has not taken it within ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored] = loop.create_future()
        self._store_queue.put((body, future))
        expiry = loop.call_later(timeout, _expire, future)
        try:
            return await future
        finally:
            expiry.cancel()

    def count(self, what: str, amount: int = 1) -> None:
        with self._counts_lock:
            self._counts[what] += amount

    def counts(self) -> ReceiverCounts:
        with self._counts_lock:
            counts = dict(self._counts)
        rejected = {
            k.removeprefix("rejected:"): v for k, v in counts.items() if k.startswith("rejected:")
        }
        return ReceiverCounts(
            since=self._since,
            accepted=counts.get("accepted", 0),
            duplicates=counts.get("duplicates", 0),
            rejected=rejected,
            updates_received=counts.get("updates", 0),
            events_processed=counts.get("processed", 0),
            events_failed=counts.get("failed", 0),
            queued=self._process_queue.qsize(),
        )

    # --- storing -------------------------------------------------------------------------

    def _store_loop(self) -> None:
        while True:
            batch, stopping = _take(
                self._store_queue, MAX_STORE_BATCH, lambda item: len(item[0].raw), MAX_STORE_BYTES
            )
            if batch:
                self._store(batch)
            if stopping:
                return

    def _store(self, batch: list[tuple[Body, _Waiter]]) -> None:
        try:
            with self._lock, self.siaran.uow.begin() as session:
                results = store_events(session, [body for body, _ in batch])
        except Exception as exc:
            log.exception(
                "Could not store %d webhook bodies; Meta will deliver them again", len(batch)
            )
            _settle([(future, exc) for _, future in batch])
            return
        fresh = [stored for stored in results if not stored.duplicate]
        self.count("accepted", len(results))
        self.count("duplicates", len(results) - len(fresh))
        self.count("updates", sum(stored.body.updates for stored in fresh))
        _settle([(future, stored) for (_, future), stored in zip(batch, results, strict=True)])
        for stored in fresh:
            with self._queued_lock:
                room = self._queued_bytes + len(stored.body.raw) <= MAX_QUEUED_BYTES
                if room:
                    self._queued_bytes += len(stored.body.raw)
            if room:
                self._process_queue.put(stored)
            else:
                # Stored already: the retry job processes it after its grace period.
                self.count("overflow")

    # --- processing ----------------------------------------------------------------------

    def _process_loop(self) -> None:
        while True:
            batch, stopping = _take(
                self._process_queue,
                self._batch_events,
                lambda stored: stored.body.updates,
                self._batch_updates,
                PROCESS_LINGER,
            )
            if batch:
                with self._queued_lock:
                    self._queued_bytes -= sum(len(stored.body.raw) for stored in batch)
                self._process(batch)
            if stopping:
                return

    def _process(self, batch: list[Stored]) -> None:
        events = [Event(stored.event_id, stored.body.payload) for stored in batch]
        try:
            processed = process_safely(
                self.siaran, events, write_lock=self._lock, on_done=self._after_commit
            )
        except Exception:  # the database is gone: the events stay stored for the retry job
            log.exception("Processing %d webhook events failed; the retry job takes them",
                          len(events))  # fmt: skip
            self.count("failed", len(events))
            return
        self.count("processed", processed)
        self.count("failed", len(events) - processed)

    def _after_commit(self, report: BatchReport) -> None:
        settings = self.siaran.settings
        if not settings.opt_out_confirmation or not report.consent:
            return
        if self._confirmations is None:
            self._confirmations = ThreadPoolExecutor(1, thread_name_prefix="webhook-confirm")
        for change, _contact_id in report.consent:
            self._confirmations.submit(self._confirm, change)

    def _confirm(self, change: ConsentChange) -> None:
        from core.webhooks.confirm import send_confirmation

        try:
            send_confirmation(self.siaran, change)
        except Exception as exc:  # a confirmation is a courtesy: never break processing
            what = "opt-out" if change.opt_out else "opt-in"
            log.warning("Could not confirm the %s of %s: %s", what, change.phone[:6], exc)


def _take(
    source: queue.SimpleQueue[T | None],
    most: int,
    weight: Callable[[T], int],
    budget: int,
    linger: float = 0.0,
) -> tuple[list[T], bool]:
    """Wait for an item, then take more, up to ``most`` items or ``budget`` weight.

    Waits up to ``linger`` seconds after the first item for more to arrive (fewer, larger
    transactions under load). Returns the items and whether the stop signal (None) came.
    """
    first = source.get()
    if first is None:
        return [], True
    items, used = [first], weight(first)
    until = time.monotonic() + linger
    while len(items) < most and used < budget:
        left = until - time.monotonic()
        try:
            item = source.get(timeout=left) if left > 0 else source.get_nowait()
        except queue.Empty:
            break
        if item is None:
            return items, True
        items.append(item)
        used += weight(item)
    return items, False


def _settle(outcomes: list[tuple[_Waiter, Stored | BaseException]]) -> None:
    """Resolve waiters: thread futures at once, each event loop's in one callback."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Stored], Any]]] = {}
    for waiter, outcome in outcomes:
        if isinstance(waiter, asyncio.Future):
            by_loop.setdefault(waiter.get_loop(), []).append((waiter, outcome))
        elif isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)
    for loop, pairs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop closed: its requests are gone
            loop.call_soon_threadsafe(_settle_on_loop, pairs)


def _settle_on_loop(pairs: list[tuple[asyncio.Future[Stored], Any]]) -> None:
    for future, outcome in pairs:
        if future.done():  # timed out meanwhile
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _expire(future: asyncio.Future[Stored]) -> None:
    if not future.done():
        future.set_exception(TimeoutError("the webhook was not stored in time"))
