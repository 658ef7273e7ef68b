"""Writing the sender's answers: one transaction per batch, each answer applied only to a
message still ``sending`` (so a status webhook that confirmed it first is never undone or
counted twice).

    verdict      the message becomes                       besides
    sent         sent, with the wamid and sent_at          sent_count; the contact's
                                                           last_broadcast_at (cooldown)
    failed       failed, with Meta's code, title, message  failed_count; 131050 opts the
                                                           contact out (audited)
    retry        pending again at next_attempt_at          the error is kept
    unconfirmed  still sending, unclaimed, until the       see ``sender.outbox``
                 deadline in next_attempt_at
    fatal        pending again, the attempt uncounted      the campaign is paused (store)
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from core import audit
from core.optouts import SOURCE_SENDER
from core.permissions import SYSTEM_ACTOR
from sender.errors import CloudApiError
from sender.outbox import (
    TABLE,
    Claimed,
    add_counters,
    mark_broadcast,
    upsert_preferences,
)
from sql.schema import ContactPreference

Verdict = Literal["sent", "failed", "retry", "unconfirmed", "fatal"]
_TITLE_MAX = 255


@dataclass(frozen=True)
class ErrorRecord:
    """What is stored of a failure on the message row."""

    code: int | None
    category: str
    title: str | None
    message: str

    @classmethod
    def of(cls, error: CloudApiError, prefix: str | None = None) -> ErrorRecord:
        message = str(error)
        if error.details:
            message += f" Details: {error.details}"
        if prefix:
            message = f"{prefix} {message}"
        title = error.title[:_TITLE_MAX] if error.title else None
        return cls(error.code, error.category, title, message)

    def columns(self) -> dict[str, Any]:
        return {
            "error_code": self.code,
            "error_category": self.category,
            "error_title": self.title,
            "error_message": self.message,
        }


@dataclass(frozen=True)
class Outcome:
    """The answer to one send, to be written by ``record``."""

    message: Claimed
    verdict: Verdict
    at: datetime
    wamid: str | None = None
    error: ErrorRecord | None = None
    next_attempt_at: datetime | None = None
    opted_out: bool = False


@dataclass
class Tally:
    """What ``record`` changed for one campaign."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    unconfirmed: int = 0
    fatal: list[ErrorRecord] = field(default_factory=list)


def record(session: Session, outcomes: Iterable[Outcome], now: datetime) -> dict[uuid.UUID, Tally]:
    """Write a batch of answers; each applies only to a message still ``sending``."""
    outcomes = sorted(outcomes, key=lambda o: o.message.id)
    if not outcomes:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        # Lock the rows in id order first, as the webhook receiver does: the updates below
        # go verdict by verdict, and two writers locking in different orders deadlock.
        session.execute(
            select(TABLE.c.id)
            .where(TABLE.c.id.in_([o.message.id for o in outcomes]))
            .order_by(TABLE.c.id)
            .with_for_update()
        ).all()
    by_verdict: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_verdict[outcome.verdict].append(outcome)
    tallies: dict[uuid.UUID, Tally] = defaultdict(Tally)
    sent = by_verdict["sent"]
    for campaign_id, group in _by_campaign(sent).items():
        tallies[campaign_id].sent = _update_each(
            session,
            group,
            {"status": "sent", "wamid": "wamid", "sent_at": "at"},
            {"claimed_by": None, "next_attempt_at": None, "error_code": None,
             "error_category": None, "error_title": None, "error_message": None},
            now,
        )  # fmt: skip
    for campaign_id, group in _by_campaign(by_verdict["failed"]).items():
        tallies[campaign_id].failed = _update_each(
            session, group, {"status": "failed", "failed_at": "at", **_ERROR}, {"claimed_by": None},
            now,
        )  # fmt: skip
    for campaign_id, group in _by_campaign(by_verdict["retry"]).items():
        tallies[campaign_id].retried = _update_each(
            session,
            group,
            {"status": "pending", "next_attempt_at": "next_attempt_at", **_ERROR},
            {"claimed_by": None, "claimed_at": None},
            now,
        )
    for campaign_id, group in _by_campaign(by_verdict["unconfirmed"]).items():
        # Still sending, held by nobody: reconciled from webhooks until the deadline.
        tallies[campaign_id].unconfirmed = _update_each(
            session, group, {"next_attempt_at": "next_attempt_at", **_ERROR},
            {"claimed_by": None}, now,
        )  # fmt: skip
    for campaign_id, group in _by_campaign(by_verdict["fatal"]).items():
        # Not the message's fault: back to pending for when the campaign resumes.
        _update_each(
            session, group, {"status": "pending", **_ERROR},
            {"claimed_by": None, "claimed_at": None, "next_attempt_at": now,
             "attempts": TABLE.c.attempts - 1},
            now,
        )  # fmt: skip
        tallies[campaign_id].fatal = [o.error for o in group if o.error is not None]
    # Then the contacts, then the campaigns: the lock order of every outbox writer.
    broadcasts = {o.message.contact_id: o.at for o in sent if o.message.contact_id is not None}
    if broadcasts:
        mark_broadcast(session, broadcasts, now)
    opted_out = [o for o in by_verdict["failed"] if o.opted_out and o.message.contact_id]
    if opted_out:
        record_opt_outs(session, opted_out, now)
    add_counters(
        session,
        {c: t.sent for c, t in tallies.items() if t.sent},
        {c: t.failed for c, t in tallies.items() if t.failed},
    )
    return dict(tallies)


# Outcome attribute behind each error column, for ``_update_each``.
_ERROR = {
    "error_code": "error.code",
    "error_category": "error.category",
    "error_title": "error.title",
    "error_message": "error.message",
}


def _value(outcome: Outcome, path: str) -> Any:
    value: Any = outcome
    for part in path.split("."):
        value = None if value is None else getattr(value, part)
    return value


def _update_each(
    session: Session,
    outcomes: list[Outcome],
    per_row: dict[str, str],
    fixed: dict[str, Any],
    now: datetime,
) -> int:
    """One executemany UPDATE guarded by status = sending; returns the rows it changed.

    ``per_row`` maps a column to the ``Outcome`` attribute holding its value, or to a
    literal status ("sent", "failed", "pending").
    """
    literal = {"sent", "failed", "pending"}
    values: dict[str, Any] = {**fixed, "updated_at": now}
    for column, source in per_row.items():
        values[column] = source if source in literal else bindparam(f"v_{column}")
    # On the table, not the ORM entity: a list of parameters must run as one executemany,
    # not as the ORM's bulk update by primary key.
    statement = (
        update(TABLE)
        .where(TABLE.c.id == bindparam("v_id"), TABLE.c.status == "sending")
        .values(**values)
    )
    params = [
        {"v_id": o.message.id}
        | {f"v_{c}": _value(o, s) for c, s in per_row.items() if s not in literal}
        for o in outcomes
    ]
    return session.execute(statement, params).rowcount


def _by_campaign(outcomes: list[Outcome]) -> dict[uuid.UUID, list[Outcome]]:
    grouped: dict[uuid.UUID, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        grouped[outcome.message.campaign_id].append(outcome)
    return grouped


def record_opt_outs(session: Session, outcomes: list[Outcome], now: datetime) -> None:
    """131050: the customer stopped marketing messages; they are opted out from now on."""
    latest: dict[uuid.UUID, Outcome] = {}
    for outcome in outcomes:
        assert outcome.message.contact_id is not None
        latest[outcome.message.contact_id] = outcome
    rows = [
        {
            "contact_id": contact_id,
            "opted_out": True,
            "opted_out_at": outcome.at,
            "opt_out_reason": "Stopped marketing messages on WhatsApp (error 131050).",
            "opt_out_source": SOURCE_SENDER,
            "updated_at": now,
        }
        for contact_id, outcome in sorted(latest.items())
    ]
    statement, changes = upsert_preferences(
        session, rows, ["opted_out", "opted_out_at", "opt_out_reason", "opt_out_source",
                        "updated_at"],
    )  # fmt: skip
    upsert = statement.on_conflict_do_update(
        index_elements=[ContactPreference.contact_id],
        set_=changes,
        where=ContactPreference.opted_out.is_(False),
    )
    session.execute(upsert, rows)
    for contact_id, outcome in sorted(latest.items()):
        audit.record(
            session, SYSTEM_ACTOR, "contact.opt_out", "contact", contact_id,
            {"source": SOURCE_SENDER, "code": 131050, "campaign_id": outcome.message.campaign_id,
             "message_id": outcome.message.id},
        )  # fmt: skip
