"""How the send loop follows the database: statuses, rates, heartbeats, progress.

Every ``Tuning.poll_seconds`` the loop reads its campaigns (status, rate, deadline,
counters) and brings each ``Lane`` in line: running campaigns send, paused, cancelled,
failed or expired ones give back what they claimed, cancelled ones have their unsent
messages cancelled, expired ones expired, and a running campaign with nothing left is
completed. The quality breaker sees the counters on every poll. A sender of one campaign
given ``park_after`` ends ("waiting") when the campaign is running but nothing of it is
due for longer than that (only retries hours ahead, e.g. 131049): the campaign stays
running, and whoever started the sender starts another when the retry comes due. Every
heartbeat the worker beats and does the outbox's chores (``sender.store.maintain``),
learns how many workers share its number and campaigns, and picks up new credentials or
throughput. Progress is saved every ``Tuning.progress_seconds``.

``Control`` is a part of ``sender.loop.Sender``, kept apart so the send loop reads alone.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from core.bootstrap import Siaran
from core.settings import Settings
from sender import store
from sender.breaker import QualityBreaker
from sender.cloud_api import CloudApiClient
from sender.lanes import ENDED, Lane, ProgressCallback, Tuning, client_for, connections_for
from sender.rate import FairGate, JitterGuard
from sender.workers import Peers
from sql.types import utcnow

log = logging.getLogger("siaran.sender")
T = TypeVar("T")
HALT_RETRY = 5.0  # seconds a halted campaign that is still running waits before sending again


class Control:
    """The control half of ``Sender`` (see the module docstring)."""

    siaran: Siaran
    settings: Settings
    account_id: uuid.UUID
    worker_id: str
    campaign_id: uuid.UUID | None
    stop_event: threading.Event
    on_progress: ProgressCallback | None
    paused_timeout: float | None
    park_after: float | None
    next_due_at: datetime | None
    tuning: Tuning
    lanes: dict[uuid.UUID, Lane]
    _gate: FairGate[uuid.UUID]
    _jitter: JitterGuard
    _peers: Peers
    _client: CloudApiClient | None
    _credentials: store.Credentials | None
    _old_clients: list[CloudApiClient]
    _max_in_flight: int
    _next_beat: float
    _next_progress: float

    # Provided by Sender.
    async def _db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        raise NotImplementedError

    async def _release(self, lane: Lane) -> None:
        raise NotImplementedError

    def _refill(self, lane: Lane) -> None:
        raise NotImplementedError

    def _finish(self, reason: str) -> None:
        raise NotImplementedError

    async def _control(self) -> None:
        now = utcnow()
        clock = time.monotonic()
        if self.stop_event.is_set():
            self._finish("stopped")
        states = await self._db(
            store.read_campaigns, self.account_id, self.campaign_id, list(self.lanes)
        )
        seen = set()
        for state in states:
            if state.account_id != self.account_id:  # resumed on another number
                if self.campaign_id is not None:
                    self._finish("account_changed")
                continue  # a worker leaves it to that number's sender
            seen.add(state.id)
            await self._apply(self._lane(state), state, now, clock)
        for campaign_id in [c for c in self.lanes if c not in seen]:
            await self._retire(self.lanes[campaign_id])
        if self.campaign_id is not None and self.campaign_id not in seen:
            self._finish("gone")
        window = self._jitter.window(clock)
        if abs(window - self._gate.window) >= 0.005:
            self._gate.window = window
        if clock >= self._next_beat:
            await self._beat()
        await self._complete_finished(clock)
        if clock >= self._next_progress:
            await self._report(clock)
        self._check_end(clock)
        if self.campaign_id is None:  # a worker forgets campaigns that ended
            for lane in [x for x in self.lanes.values() if x.status in ENDED and x.idle()]:
                if lane.last_progress is not None and lane.last_progress.status == lane.status:
                    del self.lanes[lane.campaign_id]
        for lane in self.lanes.values():
            self._refill(lane)

    def _lane(self, state: store.CampaignState) -> Lane:
        lane = self.lanes.get(state.id)
        if lane is None:
            breaker = QualityBreaker(
                window_seconds=self.settings.sender_breaker_window_seconds,
                min_messages=self.settings.sender_breaker_min_messages,
                failure_rate=self.settings.sender_breaker_failure_rate,
            )
            lane = Lane(state.id, state.name, state.status, state.rate_limit, breaker)
            self.lanes[state.id] = lane
        return lane

    async def _apply(
        self, lane: Lane, state: store.CampaignState, now: datetime, clock: float
    ) -> None:
        """Bring the lane in line with its campaign's status, rate and deadline."""
        lane.name, lane.rate_limit = state.name, state.rate_limit
        expired = state.expired(now)
        sending = state.status == "running" and not expired
        if sending and not lane.active:
            lane.active, lane.halted_at = True, None
            lane.found_empty_at, lane.paused_since = None, None
            lane.breaker.reset()
            await self._beat()  # fresh credentials and shares before sending again
        if sending:
            self._gate.set_lane(lane.campaign_id, self._lane_rate(lane))
            if lane.halted_at is not None and clock - lane.halted_at > HALT_RETRY:
                # Halted, yet still running: the pause did not happen or was undone at once
                # (an owner resumed within a poll). Send again; a lasting problem halts again.
                lane.halted_at = None
                lane.breaker.reset()
            trip = lane.breaker.observe(clock, state.sent_count, state.failed_count)
            if trip is not None and not lane.halted:
                lane.halt(clock)
                await self._db(store.pause, lane.campaign_id, trip.reason, self.settings)
        elif lane.active:
            lane.active = False
            self._gate.remove_lane(lane.campaign_id)
            await self._release(lane)
        due = clock - lane.checked_expiry_at >= 1.0
        if expired and due and state.status in ("running", "paused") and not lane.buffer:
            lane.checked_expiry_at = clock
            count = await self._db(store.expire, lane.campaign_id, now)
            if count:
                log.info("campaign %s: %d unsent messages expired", lane.name, count)
        if state.status in ("cancelled", "failed") and lane.status != state.status:
            await self._db(store.cancel_unsent, lane.campaign_id, now)
        if state.status == "paused" and lane.paused_since is None:
            lane.paused_since = clock
        elif state.status != "paused":
            lane.paused_since = None
        lane.status = state.status

    def _lane_rate(self, lane: Lane) -> float:
        return lane.rate_limit / self._peers.campaign_share(lane.campaign_id)

    async def _retire(self, lane: Lane) -> None:
        """The campaign left this sender's view (ended or moved to another number)."""
        lane.active = False
        self._gate.remove_lane(lane.campaign_id)
        await self._release(lane)
        if lane.idle():
            del self.lanes[lane.campaign_id]

    async def _beat(self) -> store.Maintenance:
        """Heartbeat and its chores (see ``store.maintain``); returns what it found."""
        self._next_beat = time.monotonic() + self.settings.sender_heartbeat_seconds
        found = await self._db(
            store.maintain, self.worker_id, self.account_id, self.settings, utcnow()
        )
        if not found.alive:
            # Declared dead (e.g. the database was out of reach): its claims were released
            # for reconciliation, so posting them now could send twice. Drop them, rejoin.
            log.error("worker %s was declared dead; dropping its claimed messages", self.worker_id)
            for lane in self.lanes.values():
                lane.buffer.clear()
            await self._db(
                store.register, self.worker_id, self.account_id, self.campaign_id, utcnow()
            )
        self._peers = found.peers
        account = found.account
        if account is None:
            self._finish("account_gone")
            return found
        if not account.is_active:
            await self._pause_all(
                f"The WhatsApp account '{account.name}' was disconnected. Connect an account "
                "in WhatsApp account settings, then resume the campaign."
            )
        self._use_account(account)
        self._gate.cap = account.throughput_per_second / found.peers.number_share
        for lane in self.lanes.values():
            if lane.active:
                self._gate.set_lane(lane.campaign_id, self._lane_rate(lane))
        return found

    async def _pause_all(self, reason: str) -> None:
        for lane in self.lanes.values():
            if lane.active and not lane.halted:
                lane.halt(time.monotonic())
                await self._db(store.pause, lane.campaign_id, reason, self.settings)

    def _use_account(self, account: store.AccountState) -> None:
        """Build the client, or rebuild it when the credentials changed (a reconnect)."""
        if self._credentials == account.credentials and self._client is not None:
            return
        if self._client is not None:
            self._old_clients.append(self._client)  # answers in flight still use it
        self._client = client_for(account.credentials, self.siaran, account.throughput_per_second)
        self._credentials = account.credentials
        self._max_in_flight = connections_for(account.throughput_per_second)

    async def _complete_finished(self, clock: float) -> None:
        for lane in list(self.lanes.values()):
            if lane.status != "running" or not lane.idle() or lane.halted:
                continue
            if lane.active and lane.found_empty_at is None:
                continue
            if clock - lane.checked_done_at < 1.0:
                continue
            lane.checked_done_at = clock
            status = await self._db(store.complete, lane.campaign_id, self.settings)
            if status is not None:
                log.info("campaign %s %s", lane.name, status)
                lane.status = status
                lane.active = False
                self._gate.remove_lane(lane.campaign_id)
                await self._report_lane(lane, clock)
            elif lane.active and lane.campaign_id == self.campaign_id:
                await self._park_if_waiting(lane)

    async def _park_if_waiting(self, lane: Lane) -> None:
        """End when the campaign's next due message is more than ``park_after`` away.

        Called with the lane idle (nothing buffered, in flight or being claimed) after a
        claim found nothing due. ``store.next_due_at`` counts answers not yet recorded, and
        messages other senders hold, as due now, so those keep this sender going.
        """
        if self.park_after is None:
            return
        now = utcnow()
        due = await self._db(store.next_due_at, lane.campaign_id, now)
        if due is None or (due - now).total_seconds() <= self.park_after:
            return
        self.next_due_at = due
        log.info(
            "campaign %s: nothing is due until %s UTC; this sender ends (waiting), the "
            "campaign stays running", lane.name, f"{due:%Y-%m-%d %H:%M:%S}",
        )  # fmt: skip
        self._finish("waiting")

    async def _report(self, clock: float, *, every_lane: bool = False) -> None:
        self._next_progress = clock + self.tuning.progress_seconds
        for lane in list(self.lanes.values()):
            reported = lane.last_progress
            changed = reported is None or reported.status != lane.status
            if every_lane or changed or lane.status == "running":
                await self._report_lane(lane, clock)

    async def _report_lane(self, lane: Lane, clock: float) -> None:
        fallback = min(self._lane_rate(lane), self._gate.cap) if lane.active else 0.0
        measured = await self._db(
            store.save_progress,
            lane.campaign_id,
            self.worker_id,
            meter=lane.meter,
            clock=clock,
            fallback_rate=fallback,
            now=utcnow(),
        )
        if measured is not None:
            lane.last_progress = measured
            if self.on_progress is not None:
                self.on_progress(measured)

    def _check_end(self, clock: float) -> None:
        if self.campaign_id is None:
            return
        lane = self.lanes.get(self.campaign_id)
        if lane is None:
            return
        if lane.status in ENDED and not lane.in_flight:
            self._finish(lane.status)
        elif lane.status == "paused" and self.paused_timeout is not None:
            if lane.paused_since is not None and clock - lane.paused_since >= self.paused_timeout:
                self._finish("paused")
        elif lane.status in ("draft", "scheduled"):
            self._finish(lane.status)
