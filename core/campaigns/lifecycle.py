"""The campaign and message status machines, and the one guarded way to move a campaign.

Campaign statuses (``campaigns.status``)::

      draft ───────────── launch (send now) ──────────────┐
      │   ▲                                               ▼
  schedule│unschedule                       ┌─────────► running ──complete──► completed
      ▼   │                                 │            │   ▲
      scheduled ────── launch (when due) ───┘       pause│   │resume
                                                         ▼   │
                                                         paused
      cancel:  scheduled, running, paused ──► cancelled
      fail:    running, paused            ──► failed
      reopen:  completed, failed          ──► running   (an owner retries failed messages)

    from        allowed next statuses
    draft       scheduled, running
    scheduled   draft (unschedule), scheduled (new time), running, cancelled
    running     paused, completed, failed, cancelled
    paused      running, cancelled, failed
    completed   running (reopen: only when an owner retries failed messages)
    failed      running (reopen: only when an owner retries failed messages)
    cancelled   (terminal)

``transition()`` performs each move as one conditional UPDATE
(``... SET status = :new WHERE id = :id AND status IN (:allowed)``): when two runs, two
owners or a sensor and an owner race, exactly one UPDATE matches and the others get a
``Conflict`` whose message says what the campaign is and what the action needs. This is
the real fence against two runs driving one campaign, on SQLite and PostgreSQL alike.

Message statuses (``campaign_messages.status``)::

    pending ──► sending ──► sent ──► delivered ──► read
       │  ▲        │  │       │
       │  └retry───┘  │       └──► failed ◄── (pending, sending)
       │              └──────────► failed ──retry by an owner──► pending
       ├──► expired     (the campaign's deadline passed before it was sent)
       └──► cancelled   (the campaign was cancelled or failed before it was sent)

Statuses only move forward (``may_advance``): webhooks arrive late, twice or out of order
and none of that may move a status back. Two moves go back on purpose and are not
``may_advance``: the sender putting a ``sending`` message back to ``pending`` to retry a
transient error, and an owner retrying a ``failed`` one. ``expired`` and ``cancelled`` say
Siaran gave up before sending; a webhook proving Meta got the message overrides them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, select, true, update
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from sql.schema import CAMPAIGN_STATUSES, MESSAGE_STATUSES, Campaign
from sql.types import utcnow


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


assert tuple(CampaignStatus) == CAMPAIGN_STATUSES, "schema and machine disagree"
assert tuple(MessageStatus) == MESSAGE_STATUSES, "schema and machine disagree"

S = CampaignStatus


@dataclass(frozen=True)
class Action:
    """A named move: from which statuses, to which one, and the words an owner reads."""

    name: str
    sources: tuple[CampaignStatus, ...]
    target: CampaignStatus
    done: str  # "only paused campaigns can be <done>"


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("schedule", (S.DRAFT, S.SCHEDULED), S.SCHEDULED, "scheduled"),
        Action("unschedule", (S.SCHEDULED,), S.DRAFT, "unscheduled"),
        Action("launch", (S.DRAFT, S.SCHEDULED), S.RUNNING, "launched"),
        Action("pause", (S.RUNNING,), S.PAUSED, "paused"),
        Action("resume", (S.PAUSED,), S.RUNNING, "resumed"),
        Action("complete", (S.RUNNING,), S.COMPLETED, "completed"),
        Action("fail", (S.RUNNING, S.PAUSED), S.FAILED, "marked failed"),
        Action("cancel", (S.SCHEDULED, S.RUNNING, S.PAUSED), S.CANCELLED, "cancelled"),
        Action("reopen", (S.COMPLETED, S.FAILED), S.RUNNING, "reopened"),
    )
}


def _transitions() -> dict[CampaignStatus, frozenset[CampaignStatus]]:
    table: dict[CampaignStatus, set[CampaignStatus]] = {status: set() for status in S}
    for action in ACTIONS.values():
        for source in action.sources:
            table[source].add(action.target)
    return {status: frozenset(targets) for status, targets in table.items()}


#: Every allowed campaign move, derived from ``ACTIONS`` (the table in the docstring).
TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = _transitions()
#: Statuses in which nothing will be sent any more (``reopen`` aside).
TERMINAL = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})
#: Statuses in which an owner may still change the campaign's content.
EDITABLE = frozenset({S.DRAFT, S.SCHEDULED, S.PAUSED})
#: Statuses in which the campaign may be deleted (running and paused campaigns may not).
DELETABLE = frozenset({S.DRAFT, S.SCHEDULED, S.CANCELLED, S.COMPLETED, S.FAILED})


def _phrase(statuses: tuple[CampaignStatus, ...]) -> str:
    names = [s.value for s in statuses]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def state(status: str) -> str:
    """A status as it reads after "is": "a draft", "running", "completed"."""
    return "a draft" if status == S.DRAFT else status


def refusal(name: str, status: str, action: Action) -> str:
    """Why ``action`` cannot happen to campaign ``name`` in ``status``, in an owner's words."""
    if status == action.target and status not in action.sources and status != S.DRAFT:
        return f"Campaign '{name}' is already {status}."
    return (
        f"Campaign '{name}' is {state(status)}; only {_phrase(action.sources)} campaigns can "
        f"be {action.done}."
    )


def check_allowed(campaign: Campaign, action: str) -> None:
    """Raise Conflict now if ``action`` is not allowed in the campaign's current status.

    Only a courtesy for early, precise errors: ``transition`` is the real guard.
    """
    chosen = ACTIONS[action]
    if campaign.status not in chosen.sources:
        raise Conflict(refusal(campaign.name, campaign.status, chosen))


# Columns each move stamps (``now``) or clears (None), besides status and status_reason.
_STAMPS: dict[str, dict[str, bool]] = {
    "launch": {"started_at": True, "paused_at": False},
    "pause": {"paused_at": True},
    "resume": {"paused_at": False},
    "complete": {"completed_at": True},
    "fail": {"completed_at": True},
    "cancel": {"cancelled_at": True},
    "reopen": {"completed_at": False},
    "unschedule": {"scheduled_at": False},
}


def transition(
    session: Session,
    campaign_id: uuid.UUID,
    action: str,
    *,
    reason: str | None = None,
    values: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    guard: ColumnElement[bool] | None = None,
    guard_refusal: str = "",
) -> Campaign:
    """Move the campaign by ``action`` with one conditional UPDATE, or raise Conflict.

    ``values`` are further columns set in the same UPDATE (e.g. ``scheduled_at``);
    ``guard`` a further condition of its WHERE, refused with ``guard_refusal``.
    ``status_reason`` becomes ``reason`` (None clears it). No permission check and no
    audit here: the service functions that call this do both.
    """
    chosen = ACTIONS[action]
    now = now or utcnow()
    changes: dict[str, Any] = {"status": chosen.target.value, "status_reason": reason}
    for column, stamp in _STAMPS.get(action, {}).items():
        changes[column] = now if stamp else None
    changes["updated_at"] = now
    changes.update(values or {})
    allowed = Campaign.status.in_([s.value for s in chosen.sources])
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, allowed, true() if guard is None else guard)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        row = session.execute(
            select(Campaign.name, Campaign.status).where(Campaign.id == campaign_id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"Campaign {campaign_id} does not exist.")
        if row.status in chosen.sources and guard is not None:
            raise Conflict(guard_refusal or f"Campaign '{row.name}' cannot be {chosen.done} now.")
        raise Conflict(refusal(row.name, row.status, chosen))
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    assert campaign is not None
    return campaign


# --- messages -------------------------------------------------------------------------------

M = MessageStatus
_DELIVERY_PROOF = frozenset({M.SENT, M.DELIVERED, M.READ, M.FAILED})

#: Every allowed message move, including the two deliberate steps back (see module doc).
MESSAGE_TRANSITIONS: dict[MessageStatus, frozenset[MessageStatus]] = {
    M.PENDING: frozenset(
        {M.SENDING, M.SENT, M.DELIVERED, M.READ, M.FAILED, M.EXPIRED, M.CANCELLED}
    ),
    M.SENDING: frozenset({M.PENDING, M.SENT, M.DELIVERED, M.READ, M.FAILED}),
    M.SENT: frozenset({M.DELIVERED, M.READ, M.FAILED}),
    M.DELIVERED: frozenset({M.READ}),
    M.READ: frozenset(),
    M.FAILED: frozenset({M.PENDING}),
    M.EXPIRED: _DELIVERY_PROOF,
    M.CANCELLED: _DELIVERY_PROOF,
}
#: The two moves back: the sender rescheduling a retry, an owner retrying a failure.
_BACKWARD = frozenset({(M.SENDING, M.PENDING), (M.FAILED, M.PENDING)})


def may_advance(old: str, new: str) -> bool:
    """True when a message in status ``old`` may take status ``new`` from news of it.

    Statuses only move forward: a duplicate (``new == old``), a late ``delivered`` after
    ``read`` or any event after ``failed`` returns False and must be ignored.
    """
    try:
        before, after = M(old), M(new)
    except ValueError:
        return False
    return after in MESSAGE_TRANSITIONS[before] and (before, after) not in _BACKWARD


def may_move(old: str, new: str) -> bool:
    """True when ``old`` → ``new`` is any allowed message move, the two steps back included."""
    try:
        return M(new) in MESSAGE_TRANSITIONS[M(old)]
    except ValueError:
        return False
