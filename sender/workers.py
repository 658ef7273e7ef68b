"""Sender workers: who is alive (heartbeats), and each one's share of the rates.

Every sender registers a row in ``sender_workers`` for the phone number it serves (and the
campaign, when it drives only one) and beats every ``sender_heartbeat_seconds``. A worker
is dead when its heartbeat is older than ``sender_worker_timeout_seconds``, or at once when
it ran on this machine and its process is gone (a ``kill -9``); the survivors mark it
stopped and release its claims for reconciliation (``sender.outbox.release_orphans``).

Rates hold across workers: a campaign served by n live workers gives each ``rate / n``, and
a number's cap is split between the workers sending from it. A worker that joins waits one
heartbeat before sending when others are already sending from the number, so they have
lowered their share before it starts; one that finds a worker just died (a restart after a
crash) waits one rate window, since the dead one may have sent during the last second.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sql.schema import SenderWorker

HOSTNAME = socket.gethostname()[:255]
FORGET_AFTER = timedelta(days=1)  # stopped workers' rows are deleted after this


def new_worker_id() -> str:
    """A worker id unique across machines and restarts: host, process id, random suffix."""
    return f"{HOSTNAME[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def register(
    session: Session,
    worker_id: str,
    account_id: uuid.UUID,
    campaign_id: uuid.UUID | None,
    now: datetime,
) -> None:
    row = session.get(SenderWorker, worker_id)
    if row is None:
        row = SenderWorker(id=worker_id, started_at=now)
        session.add(row)
    row.hostname = HOSTNAME
    row.pid = os.getpid()
    row.account_id = account_id
    row.campaign_id = campaign_id
    row.heartbeat_at = now
    row.stopped_at = None
    session.flush()


def heartbeat(session: Session, worker_id: str, now: datetime) -> bool:
    """Beat; False when others declared this worker dead (its claims were released)."""
    return (
        session.execute(
            update(SenderWorker)
            .where(SenderWorker.id == worker_id, SenderWorker.stopped_at.is_(None))
            .values(heartbeat_at=now)
        ).rowcount
        == 1
    )


def stop(session: Session, worker_id: str, now: datetime) -> None:
    session.execute(update(SenderWorker).where(SenderWorker.id == worker_id).values(stopped_at=now))


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


@dataclass(frozen=True)
class Peers:
    """The live workers of one phone number."""

    live: list[str]
    # campaign id -> how many live workers serve it; None keys workers serving all campaigns
    serving: dict[uuid.UUID | None, int]

    def campaign_share(self, campaign_id: uuid.UUID) -> int:
        """How many workers split this campaign's rate (at least 1: this one)."""
        return max(1, self.serving.get(campaign_id, 0) + self.serving.get(None, 0))

    @property
    def number_share(self) -> int:
        return max(1, len(self.live))


def reap_and_list(
    session: Session, account_id: uuid.UUID, now: datetime, timeout: float
) -> tuple[Peers, list[str]]:
    """Mark the number's dead workers stopped; return the live ones and the newly dead."""
    cutoff = now - timedelta(seconds=timeout)
    rows = session.scalars(
        select(SenderWorker).where(
            SenderWorker.account_id == account_id, SenderWorker.stopped_at.is_(None)
        )
    ).all()
    live: list[SenderWorker] = []
    dead: list[str] = []
    for row in rows:
        gone = row.hostname == HOSTNAME and row.pid != os.getpid() and _process_gone(row.pid)
        if gone or row.heartbeat_at < cutoff:
            dead.append(row.id)
        else:
            live.append(row)
    if dead:
        session.execute(
            update(SenderWorker)
            .where(SenderWorker.id.in_(dead), SenderWorker.stopped_at.is_(None))
            .values(stopped_at=now)
        )
    session.execute(delete(SenderWorker).where(SenderWorker.stopped_at < now - FORGET_AFTER))
    serving: dict[uuid.UUID | None, int] = {}
    for row in live:
        serving[row.campaign_id] = serving.get(row.campaign_id, 0) + 1
    return Peers([row.id for row in live], serving), dead
