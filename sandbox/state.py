"""The sandbox's memory: templates, uploaded media, sent messages, customers' windows, limits.

``accept`` is the heart of a send: after validation it applies the throughput and pair limits,
records the message, decides its outcome and schedules the webhooks that outcome produces.
Everything runs on the server's event loop, so nothing here needs a lock.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.config import SandboxConfig
from sandbox.emitter import WebhookEmitter
from sandbox.errors import GraphError
from sandbox.library import default_templates
from sandbox.limits import PairRateLimiter, SendHistogram, ThroughputWindow
from sandbox.outcomes import Outcome, decide, draws, message_pricing, timeline
from sandbox.payloads import (
    WebhookEvent,
    inbound_event,
    profile_name,
    status_event,
    template_status_event,
    user_preferences_event,
    wamid,
)
from sandbox.templates import Template, TemplateStore, parse_template
from sandbox.validation import OutgoingMessage


@dataclass(slots=True)
class MediaItem:
    id: str
    kind: str  # image | document | video
    mime_type: str
    file_size: int
    sha256: str
    filename: str


@dataclass(slots=True)
class SentMessage:
    """What the sandbox remembers of an accepted message."""

    seq: int
    id: str
    to: str
    wa_id: str
    type: str
    text: str
    template_name: str | None
    template_language: str | None
    category: str | None
    biz_opaque_callback_data: str | None
    accepted_at: float
    outcome: str
    error_code: int | None
    status: str = "accepted"

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "id": self.id,
            "to": self.to,
            "wa_id": self.wa_id,
            "type": self.type,
            "text": self.text,
            "template": {"name": self.template_name, "language": self.template_language}
            if self.template_name
            else None,
            "category": self.category,
            "biz_opaque_callback_data": self.biz_opaque_callback_data,
            "accepted_at": self.accepted_at,
            "outcome": self.outcome,
            "error_code": self.error_code,
            "status": self.status,
        }


STATUS_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


class SandboxState:
    """All mutable sandbox state for one server."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.emitter = WebhookEmitter(lambda: self.config, config.seed)
        self.throughput = ThroughputWindow()
        self.pair_rate = PairRateLimiter()
        self.histogram = SendHistogram()
        self.counters: dict[str, int] = {}
        self._wall_offset = time.time() - time.monotonic()
        self._reset_data()

    def _reset_data(self) -> None:
        self.templates = TemplateStore()
        for definition in default_templates():
            self.templates.add(parse_template(self.templates.next_id(), definition))
        self.media: dict[str, MediaItem] = {}
        self.media_kinds: dict[str, str] = {}
        self.messages: deque[SentMessage] = deque()
        self.by_id: dict[str, SentMessage] = {}
        self.inbound_ids: dict[str, str] = {}  # inbound wamid -> sender wa_id
        self.last_inbound: dict[str, float] = {}  # wa_id -> wall time of their last message
        self.ordinals: dict[str, int] = {}  # wa_id -> messages sent to them so far
        self._sequence = 0
        self.throughput.clear()
        self.pair_rate.clear()
        self.histogram.clear()
        self.counters = {"accepted": 0, "throughput_limited": 0, "pair_limited": 0}

    def reset(self) -> None:
        """Back to a fresh sandbox (the config is kept)."""
        self.emitter.clear()
        self._reset_data()

    def _token(self) -> str:
        self._sequence += 1
        seed = f"{self.config.seed}:{self._sequence}".encode()
        return hashlib.blake2b(seed, digest_size=9).hexdigest().upper()

    def window_open(self, wa_id: str, now: float) -> bool:
        last = self.last_inbound.get(wa_id)
        return last is not None and now - last < self.config.service_window_hours * 3600

    # --- sending --------------------------------------------------------------------------

    def accept(self, message: OutgoingMessage) -> SentMessage:
        """Apply the limits, record the message and schedule its webhooks."""
        config = self.config
        # One clock for the limit and the histogram, so that no wall-clock second of the
        # histogram can hold more sends than the sliding window let through.
        monotonic = time.monotonic()
        wall = monotonic + self._wall_offset
        if self.throughput.full(monotonic, config.throughput_per_second):
            self.counters["throughput_limited"] += 1
            raise GraphError(
                130429,
                "Message failed to send because there were too many messages sent from this "
                f"phone number in a short period of time (limit: {config.throughput_per_second} "
                "messages per second).",
            )
        if not self.pair_rate.take(
            message.wa_id, monotonic, config.pair_rate_interval_s, config.pair_rate_burst
        ):
            self.counters["pair_limited"] += 1
            raise GraphError(
                131056,
                "Message failed to send because there were too many messages sent from this "
                "phone number to the same phone number in a short period of time.",
            )
        self.throughput.record(monotonic)
        self.histogram.add(wall)
        self.counters["accepted"] += 1
        ordinal = self.ordinals.get(message.wa_id, 0)
        self.ordinals[message.wa_id] = ordinal + 1
        window_open = self.window_open(message.wa_id, wall)
        u = draws(config.seed, message.wa_id, ordinal)
        outcome = decide(config, message, u, window_open=window_open)
        template = message.template
        record = SentMessage(
            seq=self.counters["accepted"],
            id=wamid(message.wa_id, self._token()),
            to=message.to_input,
            wa_id=message.wa_id,
            type=message.type,
            text=message.text,
            template_name=template.name if template else None,
            template_language=template.language if template else None,
            category=template.category if template else None,
            biz_opaque_callback_data=message.biz_opaque_callback_data,
            accepted_at=wall,
            outcome=outcome.kind,
            error_code=outcome.error_code,
        )
        self._remember(record)
        self._schedule(record, message, outcome, u, window_open)
        return record

    def _remember(self, record: SentMessage) -> None:
        self.messages.append(record)
        self.by_id[record.id] = record
        while len(self.messages) > self.config.max_recorded_messages:
            oldest = self.messages.popleft()
            self.by_id.pop(oldest.id, None)

    def _schedule(
        self,
        record: SentMessage,
        message: OutgoingMessage,
        outcome: Outcome,
        u: list[float],
        window_open: bool,
    ) -> None:
        steps = timeline(self.config, outcome, u)
        delivering = self.config.webhooks.url is not None
        duplicate, reorder = self.emitter.duplicate_and_reorder() if delivering else (False, False)
        if reorder and len(steps) > 1 and steps[0][0] == "sent":
            # "sent" arrives after everything else, as happens at Meta under load.
            steps[0] = ("sent", steps[-1][1] + self.config.webhooks.reorder_delay_ms / 1000)
        price = message_pricing(message, window_open)
        for step, delay in steps:
            event = self._event(step, record, outcome, price, delay) if delivering else None
            if step in STATUS_RANK:
                effect = _status_effect(record, step)
            elif step == "reply":
                effect = self._inbound_effect(record.wa_id, event)
            else:
                effect = None
            if event is None and effect is None:
                continue
            self.emitter.schedule(delay, event, effect)
            if duplicate and event is not None:
                self.emitter.schedule(delay + self.config.webhooks.duplicate_delay_ms / 1000, event)

    def _event(
        self,
        step: str,
        record: SentMessage,
        outcome: Outcome,
        price: dict[str, Any],
        delay: float,
    ) -> WebhookEvent:
        at = record.accepted_at + delay
        if step == "reply":
            reply = outcome.reply
            assert reply is not None
            return inbound_event(
                message_id=wamid(record.wa_id, self._token(), inbound=True),
                wa_id=record.wa_id,
                timestamp=at,
                name=profile_name(record.wa_id),
                text=reply.text,
                button=(reply.button, reply.button) if reply.button else None,
                context=(self.config.display_digits, record.id),
            )
        if step == "opt_out":
            return user_preferences_event(
                wa_id=record.wa_id, name=profile_name(record.wa_id), timestamp=at, stop=True
            )
        error = (outcome.error_code or 131026, outcome.error_details) if step == "failed" else None
        return status_event(
            message_id=record.id,
            status=step,
            timestamp=at,
            recipient_id=record.wa_id,
            callback=record.biz_opaque_callback_data,
            price=None if step == "failed" else price,
            error=error,
        )

    def _inbound_effect(self, wa_id: str, event: WebhookEvent | None) -> Any:
        def opened() -> None:
            self.last_inbound[wa_id] = time.time()
            if event is not None:
                self.inbound_ids[event.value["id"]] = wa_id

        return opened

    # --- inbound messages, templates, media -------------------------------------------------

    def simulate_inbound(
        self,
        wa_id: str,
        *,
        text: str | None,
        button: tuple[str, str] | None,
        context_id: str | None,
        name: str | None,
    ) -> str:
        """A customer writes to the business now: opens their window and emits the webhook."""
        now = time.time()
        message_id = wamid(wa_id, self._token(), inbound=True)
        self.last_inbound[wa_id] = now
        self.inbound_ids[message_id] = wa_id
        if self.config.webhooks.url is not None:
            event = inbound_event(
                message_id=message_id,
                wa_id=wa_id,
                timestamp=now,
                name=name or profile_name(wa_id),
                text=text,
                button=button,
                context=(self.config.display_digits, context_id) if context_id else None,
            )
            self.emitter.schedule(0, event)
        return message_id

    def add_template(self, definition: dict[str, Any], *, notify: bool) -> Template:
        template = self.templates.add(parse_template(self.templates.next_id(), definition))
        if notify and template.status != "PENDING":
            self._template_event(template, template.status, None)
        return template

    def set_template_status(self, template: Template, status: str, reason: str | None) -> None:
        template.status = status
        if status == "REJECTED":
            template.rejected_reason = reason or "INVALID_FORMAT"
        self._template_event(template, status, reason)

    def _template_event(self, template: Template, status: str, reason: str | None) -> None:
        if self.config.webhooks.url is None:
            return
        event = template_status_event(
            template_id=template.id,
            name=template.name,
            language=template.language,
            event=status,
            reason=reason,
        )
        self.emitter.schedule(0, event)

    def add_media(self, item: MediaItem) -> None:
        self.media[item.id] = item
        self.media_kinds[item.id] = item.kind

    def new_media_id(self) -> str:
        digest = hashlib.blake2b(self._token().encode(), digest_size=7).digest()
        return str(1_000_000_000_000_000 + int.from_bytes(digest, "big") % 9_000_000_000_000_000)


def _status_effect(record: SentMessage, status: str) -> Any:
    """Move the record's status forward only (webhooks may be reordered, statuses may not)."""

    def advance() -> None:
        if STATUS_RANK[status] > STATUS_RANK[record.status]:
            record.status = status

    return advance


STATE = web.AppKey("sandbox_state", SandboxState)
