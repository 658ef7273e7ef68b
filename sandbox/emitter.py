"""Signed webhook delivery in the background, never in the way of API responses.

Handlers only ``schedule`` events (a heap push). A pump task wakes when events fall due, runs
their side effects (a reply opens the customer's 24-hour window when it "happens"), groups
them into POST bodies (several statuses share one POST sometimes, always under backlog) and
queues the deliveries. A dispatcher sends them with bounded concurrency, each body signed with
``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body, keyed with the app secret>``.
Anything but HTTP 200 (or a timeout) is retried with exponential backoff, up to
``max_attempts``; then the body is kept as a dead letter for inspection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import hmac
import json
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from sandbox.config import SandboxConfig
from sandbox.payloads import WebhookEvent, envelope


def signature(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value for ``body``."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(slots=True)
class Delivery:
    body: bytes
    events: int
    attempts: int = 0


@dataclass(slots=True)
class _Due:
    event: WebhookEvent | None = None
    effect: Callable[[], None] | None = None
    delivery: Delivery | None = None  # a retry


@dataclass
class EmitterStats:
    scheduled_events: int = 0
    delivered_posts: int = 0
    delivered_events: int = 0
    failed_attempts: int = 0
    retries: int = 0
    dead_letters: int = 0
    dropped_events: int = 0
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))


class WebhookEmitter:
    """Schedules, batches, signs and delivers webhooks for one sandbox."""

    def __init__(self, config: Callable[[], SandboxConfig], seed: int) -> None:
        self._config = config
        self._rng = random.Random(seed)
        self._heap: list[tuple[float, int, _Due]] = []
        self._sequence = 0
        self._queue: deque[Delivery] = deque()
        self._queue_ready: asyncio.Event | None = None
        self._wakeup: asyncio.Event | None = None
        self._slot_freed: asyncio.Event | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self.stats = EmitterStats()
        self.dead_letters: deque[dict[str, Any]] = deque(maxlen=1000)

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._queue_ready = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), headers={"User-Agent": "facebookexternalua"}
        )
        self._tasks = [
            asyncio.create_task(self._pump(), name="sandbox-webhook-pump"),
            asyncio.create_task(self._dispatch(), name="sandbox-webhook-dispatch"),
        ]

    async def close(self) -> None:
        for task in [*self._tasks, *self._in_flight]:
            task.cancel()
        for task in [*self._tasks, *self._in_flight]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()

    # --- scheduling (called from request handlers: cheap, never awaits) -------------------

    def schedule(
        self,
        delay_s: float,
        event: WebhookEvent | None,
        effect: Callable[[], None] | None = None,
    ) -> None:
        """Deliver ``event`` (and run ``effect``) ``delay_s`` seconds from now."""
        if event is not None:
            self.stats.scheduled_events += 1
        self._push(delay_s, _Due(event=event, effect=effect))

    def duplicate_and_reorder(self) -> tuple[bool, bool]:
        """Whether the next message's statuses get a duplicate / arrive out of order."""
        settings = self._config().webhooks
        return (
            self._rng.random() < settings.duplicate_rate,
            self._rng.random() < settings.reorder_rate,
        )

    def _push(self, delay_s: float, due: _Due) -> None:
        loop_time = asyncio.get_running_loop().time()
        self._sequence += 1
        entry = (loop_time + max(0.0, delay_s), self._sequence, due)
        heapq.heappush(self._heap, entry)
        if self._wakeup is not None and self._heap[0] is entry:
            self._wakeup.set()

    def clear(self) -> None:
        """Forget everything pending (reset); deliveries in flight are cancelled."""
        self._heap.clear()
        self._queue.clear()
        for task in self._in_flight:
            task.cancel()

    @property
    def pending(self) -> int:
        """Events and deliveries not yet settled (scheduled, queued, or in flight)."""
        return len(self._heap) + len(self._queue) + len(self._in_flight)

    # --- the pump: due events -> batches -> queue ----------------------------------------

    async def _pump(self) -> None:
        assert self._wakeup is not None and self._queue_ready is not None
        loop = asyncio.get_running_loop()
        while True:
            # Events due within the batch window are taken together, so that updates that
            # happen close in time can share a POST (delivering them a few ms early).
            now = loop.time()
            horizon = now + self._config().webhooks.batch_window_ms / 1000
            due_events: list[WebhookEvent] = []
            while self._heap and self._heap[0][0] <= horizon:
                due = heapq.heappop(self._heap)[2]
                if due.effect is not None:
                    due.effect()
                if due.event is not None:
                    due_events.append(due.event)
                if due.delivery is not None:
                    self._queue.append(due.delivery)
            if due_events:
                self._enqueue(due_events)
            if self._queue:
                self._queue_ready.set()
            timeout = self._heap[0][0] - loop.time() if self._heap else None
            self._wakeup.clear()
            if timeout is None or timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout)

    def _enqueue(self, events: list[WebhookEvent]) -> None:
        config = self._config()
        if config.webhooks.url is None:
            self.stats.dropped_events += len(events)
            return
        for batch in self._batches(events, config):
            body = json.dumps(envelope(batch, config, time.time()), separators=(",", ":"))
            self._queue.append(Delivery(body.encode(), len(batch)))

    def _batches(
        self, events: list[WebhookEvent], config: SandboxConfig
    ) -> list[list[WebhookEvent]]:
        settings = config.webhooks
        size = settings.batch_max
        if len(self._queue) + len(self._in_flight) >= settings.concurrency:
            # Behind: fill every POST, as Meta does when a receiver falls behind.
            return [events[i : i + size] for i in range(0, len(events), size)]
        batches, i = [], 0
        while i < len(events):
            left = len(events) - i
            take = 1
            if left > 1 and size > 1 and self._rng.random() < settings.batch_rate:
                take = self._rng.randint(2, min(size, left))
            batches.append(events[i : i + take])
            i += take
        return batches

    # --- the dispatcher: queue -> HTTP, bounded concurrency ------------------------------

    async def _dispatch(self) -> None:
        assert self._queue_ready is not None and self._slot_freed is not None
        while True:
            while not self._queue:
                self._queue_ready.clear()
                await self._queue_ready.wait()
            while len(self._in_flight) >= self._config().webhooks.concurrency:
                self._slot_freed.clear()
                await self._slot_freed.wait()
            if not self._queue:
                continue
            delivery = self._queue.popleft()
            task = asyncio.create_task(self._deliver(delivery))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._slot_freed is not None:
            self._slot_freed.set()

    async def _deliver(self, delivery: Delivery) -> None:
        assert self._session is not None
        config = self._config()
        settings = config.webhooks
        if settings.url is None:
            self.stats.dropped_events += delivery.events
            return
        delivery.attempts += 1
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature(config.app_secret, delivery.body),
        }
        outcome: int | str
        try:
            async with self._session.post(
                settings.url,
                data=delivery.body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=settings.timeout_s),
            ) as response:
                outcome = response.status
                await response.read()
        except TimeoutError:
            outcome = "timeout"
        except aiohttp.ClientError as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        self.stats.recent.append(
            {
                "at": time.time(),
                "url": settings.url,
                "attempt": delivery.attempts,
                "events": delivery.events,
                "bytes": len(delivery.body),
                "result": outcome,
            }
        )
        if outcome == 200:
            self.stats.delivered_posts += 1
            self.stats.delivered_events += delivery.events
            return
        self.stats.failed_attempts += 1
        if delivery.attempts >= settings.max_attempts:
            self.stats.dead_letters += 1
            self.dead_letters.append(
                {
                    "attempts": delivery.attempts,
                    "last_result": outcome,
                    "body": json.loads(delivery.body),
                }
            )
            return
        backoff_ms = min(
            settings.retry_base_ms * 2 ** (delivery.attempts - 1), settings.retry_max_ms
        )
        self.stats.retries += 1
        self._push(backoff_ms * self._rng.uniform(0.8, 1.2) / 1000, _Due(delivery=delivery))
