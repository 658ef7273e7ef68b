"""What the send loop keeps per campaign (``Lane``), its timings, and the client it sends with."""

from __future__ import annotations

import math
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from core.bootstrap import Siaran
from sender import store
from sender.breaker import QualityBreaker
from sender.cloud_api import CloudApiClient
from sender.outbox import Claimed
from sender.progress import Progress, RateMeter

ProgressCallback = Callable[[Progress], None]
ENDED = ("completed", "cancelled", "failed")


@dataclass(frozen=True)
class Tuning:
    """The loop's timings; the defaults are what pause-within-a-second needs."""

    poll_seconds: float = 0.25
    flush_seconds: float = 0.1
    progress_seconds: float = 2.0
    buffer_seconds: float = 0.5  # sending a claimed batch covers at the campaign's pace
    min_batch: int = 5
    max_batch: int = 500
    empty_claim_pause: float = 0.5  # after a claim found nothing due
    drain_timeout: float = 35.0  # the longest wait for answers when stopping


@dataclass
class Lane:
    """One campaign in this sender: its claimed messages and what the loop knows of it."""

    campaign_id: uuid.UUID
    name: str
    status: str
    rate_limit: int
    breaker: QualityBreaker
    buffer: deque[Claimed] = field(default_factory=deque)
    active: bool = False  # running and not expired: may claim and send
    halted_at: float | None = None  # a campaign-fatal answer or the breaker: send no more
    claiming: bool = False
    in_flight: int = 0
    found_empty_at: float | None = None  # monotonic time of the last claim that got nothing
    checked_done_at: float = -math.inf
    checked_expiry_at: float = -math.inf
    paused_since: float | None = None
    meter: RateMeter = field(default_factory=RateMeter)
    last_progress: Progress | None = None

    def ready(self) -> bool:
        return self.active and self.halted_at is None and bool(self.buffer)

    @property
    def halted(self) -> bool:
        return self.halted_at is not None

    def halt(self, clock: float) -> None:
        if self.halted_at is None:
            self.halted_at = clock

    def idle(self) -> bool:
        return not self.buffer and not self.in_flight and not self.claiming


def client_for(credentials: store.Credentials, siaran: Siaran, cap: int) -> CloudApiClient:
    """A client with enough connections for ``cap`` msg/s at the Cloud API's latencies."""
    return CloudApiClient(
        credentials.base_url,
        siaran.secrets.decrypt(credentials.access_token_encrypted),
        credentials.phone_number_id,
        credentials.waba_id,
        credentials.api_version,
        max_connections=connections_for(cap),
    )


def connections_for(cap: int) -> int:
    """Requests in flight needed for ``cap`` msg/s at up to ~0.5 s per answer."""
    return min(1024, max(16, cap // 2 + 16))
