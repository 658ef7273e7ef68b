"""Status webhooks -> ``campaign_messages``: forward only, counted once, whatever the order.

For a batch of status updates, the messages they name are read and locked in one query
(``SELECT ... FOR UPDATE`` in id order on PostgreSQL; on SQLite the batch's transaction
already holds the database's write lock), each update is applied in memory by the rules
below, and every changed row is written back with a conditional UPDATE
(``WHERE id = :id AND status = :status_read``) in the same transaction as the counters
(``core.campaign_counters``). A row that changed under us fails the batch, which is then
retried: counters never drift.

Matching: by ``wamid``; else by our message id in ``biz_opaque_callback_data`` (a crash
between the send and its commit leaves the wamid unrecorded: the webhook records it).
A callback match is refused when it belongs to an earlier attempt of the message (see
``_belongs``).

Rules (``core.campaigns.lifecycle.may_advance`` decides what may move):
- ``sent`` / ``delivered`` / ``read`` advance the status when allowed and stamp the step
  and the steps it implies (a read message was delivered and sent); a timestamp already
  known is kept unless the update proves an earlier one, so late and duplicate updates
  only ever make timestamps more exact.
- A step arriving after a later one (``delivered`` after ``read``) does not move the
  status; ``sent`` after ``failed`` stamps ``sent_at`` (the message did leave).
- ``failed`` records Meta's code, title and message with the error class
  (``sender.errors.error_from_webhook``). 131050 (the customer stopped marketing messages)
  also opts the contact out (source ``meta_marketing_opt_out``). 131049 (Meta held the
  marketing message back) puts the message back to ``pending`` with ``next_attempt_at``
  hours later (``EngagementLimitError``'s backoff, by attempt count) when its campaign is
  running or paused, the contact has not opted out, attempts remain and the retry falls
  before the campaign's expiry; otherwise it stays failed. A message put back loses its
  wamid and sent/delivered stamps (it will be sent again) and keeps ``failed_at`` and the
  error, which also marks later echoes of the held-back attempt as stale.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from core.campaign_counters import Deltas
from core.campaigns.lifecycle import may_advance
from core.optouts import SOURCE_META, ConsentChange
from core.upsert import is_postgresql
from core.webhooks.envelope import StatusUpdate
from sender.errors import CloudApiError, EngagementLimitError, RecipientOptedOutError
from sender.errors import error_from_webhook as classify_webhook_error
from sender.outbox import mark_broadcast
from sql.schema import Campaign, CampaignMessage, ContactPreference

#: The steps a status proves, in funnel order.
IMPLIES = {"sent": ("sent",), "delivered": ("sent", "delivered"),
           "read": ("sent", "delivered", "read")}  # fmt: skip
REQUEUE_CAMPAIGN_STATUSES = ("running", "paused")
_COLUMNS = (
    "id", "campaign_id", "contact_id", "phone", "attempts", "status", "wamid", "sent_at",
    "delivered_at", "read_at", "failed_at", "error_code", "error_category", "error_title",
    "error_message", "next_attempt_at", "claimed_by",
)  # fmt: skip
_WRITTEN = _COLUMNS[5:]  # status onwards
#: Statuses in which the sender still owns a message (queued, or posted and unconfirmed).
_UNSENT = ("pending", "sending", "expired", "cancelled")


@dataclass(slots=True)
class _Row:
    """A message as read (``original``) and as the batch leaves it."""

    values: dict[str, Any]
    original: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def changed(self) -> bool:
        return any(self.values[c] != self.original[c] for c in _WRITTEN)


@dataclass
class StatusReport:
    applied: int = 0  # updates that changed a message
    ignored: int = 0  # duplicates and late arrivals that changed nothing
    unknown: int = 0  # no campaign message with that wamid or id (e.g. inbox messages)
    stale: int = 0  # echoes of an earlier attempt of a message sent again
    requeued: int = 0  # 131049: back to pending, retried hours later
    opt_outs: list[ConsentChange] = field(default_factory=list)  # 131050


def apply_statuses(
    session: Session, updates: list[StatusUpdate], deltas: Deltas, now: datetime
) -> StatusReport:
    """Apply ``updates`` (in arrival order) to the messages they name; see module doc."""
    report = StatusReport()
    if not updates:
        return report
    rows = _lock(session, updates)
    by_wamid = {row.wamid: row for row in rows if row.wamid}
    by_id = {row.id: row for row in rows}
    campaigns = _campaigns(session, {row.campaign_id for row in rows})
    for item in updates:
        row = by_wamid.get(item.wamid)
        if row is None and item.message_id is not None:
            row = by_id.get(item.message_id)
            if row is not None and not _belongs(row, item):
                report.stale += 1
                continue
        if row is None:
            report.unknown += 1
            continue
        if row.wamid != item.wamid:
            by_wamid.pop(row.wamid, None)
            row.values["wamid"] = item.wamid
            by_wamid[item.wamid] = row
        if item.status == "failed":
            changed = _fail(session, row, item, deltas, report, campaigns.get(row.campaign_id), now)
            if row.wamid is None:  # put back for a retry: this wamid's echoes are stale now
                by_wamid.pop(item.wamid, None)
        else:
            changed = _advance(row, item, deltas)
        if changed:
            report.applied += 1
        else:
            report.ignored += 1
    dirty = [row for row in by_id.values() if row.changed]
    _release(session, dirty, now)
    _write(session, dirty, now)
    return report


def _release(session: Session, rows: list[_Row], now: datetime) -> None:
    """Messages the webhooks proved sent before the sender recorded it: the sender's part.

    Its claim and reconcile deadline are cleared (nothing to retry) and the contact's
    last broadcast is set, as ``sender.outbox.confirm_sent`` does, for the cooldown.
    """
    proven: dict[uuid.UUID, datetime] = {}
    for row in rows:
        if row.original["status"] in _UNSENT and row.status not in _UNSENT:
            row.values.update(claimed_by=None, next_attempt_at=None)
            if row.contact_id is not None and row.sent_at is not None:
                proven[row.contact_id] = max(row.sent_at, proven.get(row.contact_id, row.sent_at))
    if proven:
        mark_broadcast(session, proven, now)


_TABLE = CampaignMessage.__table__
# Built once with expanding IN parameters: compiled once, cached, no per-value coercion.
_SELECT = select(*(_TABLE.c[name] for name in _COLUMNS)).order_by(_TABLE.c.id)
_READ = {
    False: _SELECT.where(_TABLE.c.wamid.in_(bindparam("wamids", expanding=True))),
    True: _SELECT.where(
        or_(
            _TABLE.c.wamid.in_(bindparam("wamids", expanding=True)),
            _TABLE.c.id.in_(bindparam("ids", expanding=True)),
        )
    ),
}
_CAMPAIGNS = select(Campaign.id, Campaign.status, Campaign.expires_at).where(
    Campaign.id.in_(bindparam("ids", expanding=True))
)


def _lock(session: Session, updates: list[StatusUpdate]) -> list[_Row]:
    wamids = list({u.wamid for u in updates})
    ids = list({u.message_id for u in updates if u.message_id is not None})
    query = _READ[bool(ids)]
    if is_postgresql(session):
        query = query.with_for_update()
    parameters: dict[str, Any] = {"wamids": wamids, "ids": ids} if ids else {"wamids": wamids}
    rows = []
    for record in session.execute(query, parameters):
        values = dict(zip(_COLUMNS, record, strict=True))
        rows.append(_Row(values, dict(values)))
    return rows


def lock_messages(
    session: Session,
    *,
    wamids: set[str],
    ids: set[uuid.UUID],
    phones: set[str],
) -> None:
    """Lock (PostgreSQL) every message a batch may touch, in one statement, in id order.

    Statuses, replies and opt-out attributions of one batch all write messages; taking
    their locks together and in one order is what keeps concurrent batches from
    deadlocking each other. SQLite needs nothing: the batch holds the database's lock.
    """
    if not is_postgresql(session) or not (wamids or ids or phones):
        return
    table = CampaignMessage.__table__
    conditions = []
    if wamids:
        conditions.append(table.c.wamid.in_(wamids))
    if ids:
        conditions.append(table.c.id.in_(ids))
    if phones:
        conditions.append(table.c.phone.in_(phones))
    session.execute(
        select(table.c.id).where(or_(*conditions)).order_by(table.c.id).with_for_update()
    ).all()


def _campaigns(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, Any]:
    if not ids:
        return {}
    return {row.id: row for row in session.execute(_CAMPAIGNS, {"ids": list(ids)})}


def _belongs(row: _Row, item: StatusUpdate) -> bool:
    """Whether a callback-only match is news of the message's current attempt.

    The row has no wamid yet (or another one): the update belongs to the attempt in
    flight, unless the message was put back after a failure and the update is not newer
    than that failure (an echo of the held-back attempt).
    """
    held_back = row.failed_at is not None and row.status in ("pending", "sending")
    if row.wamid is None:
        return not (held_back and item.at <= row.failed_at)
    return held_back and item.at > row.failed_at


def _stamp(row: _Row, step: str, at: datetime, deltas: Deltas) -> bool:
    column = f"{step}_at"
    current = row.values[column]
    if current is None:
        row.values[column] = at
        deltas.add(row.campaign_id, step)
        return True
    if at < current:
        row.values[column] = at
        return True
    return False


def _advance(row: _Row, item: StatusUpdate, deltas: Deltas) -> bool:
    steps = IMPLIES[item.status]
    changed = False
    if may_advance(row.status, item.status):
        row.values["status"] = item.status
        changed = True
    elif row.status == "failed":
        steps = ("sent",)  # a failed message may have left; it was not delivered
    elif row.status not in ("sent", "delivered", "read"):
        return False
    for step in steps:
        changed |= _stamp(row, step, item.at, deltas)
    return changed


def _fail(
    session: Session,
    row: _Row,
    item: StatusUpdate,
    deltas: Deltas,
    report: StatusReport,
    campaign: Any,
    now: datetime,
) -> bool:
    if not may_advance(row.status, "failed"):
        return False
    error = _error(item)
    values = row.values
    values.update(
        status="failed",
        failed_at=item.at,
        error_code=error.code,
        error_category=error.category,
        error_title=(error.title or "")[:255] or None,
        error_message=_describe(error),
    )
    deltas.add(row.campaign_id, "failed")
    if isinstance(error, RecipientOptedOutError):
        report.opt_outs.append(
            ConsentChange(
                phone=row.phone,
                contact_id=row.contact_id,
                opt_out=True,
                at=item.at,
                source=SOURCE_META,
                reason=f"WhatsApp reported that the customer stopped marketing messages "
                f"({error.code}).",
            )
        )
    elif isinstance(error, EngagementLimitError) and _requeue(
        session, row, error, campaign, deltas, now
    ):
        report.requeued += 1
    return True


def _error(item: StatusUpdate) -> CloudApiError:
    if not item.errors:
        return classify_webhook_error({"title": "Failed without an error from WhatsApp"})
    return classify_webhook_error(item.errors[0])


def _describe(error: CloudApiError) -> str:
    parts = [error.message]
    raw_message = error.raw.get("message")
    if raw_message and raw_message != error.title:
        parts.append(str(raw_message))
    if error.details:
        parts.append(error.details)
    return " — ".join(parts)


def _requeue(
    session: Session,
    row: _Row,
    error: CloudApiError,
    campaign: Any,
    deltas: Deltas,
    now: datetime,
) -> bool:
    """131049: back to pending for a retry hours later, if the campaign allows it."""
    if campaign is None or campaign.status not in REQUEUE_CAMPAIGN_STATUSES:
        return False
    delay = error.retry_delay(max(1, int(row.attempts or 0)))
    if delay is None:
        return False
    retry_at = now + timedelta(seconds=delay)
    if campaign.expires_at is not None and retry_at >= campaign.expires_at:
        return False
    if row.contact_id is not None and session.scalar(
        select(ContactPreference.opted_out).where(ContactPreference.contact_id == row.contact_id)
    ):
        return False
    values = row.values
    deltas.add(row.campaign_id, "failed", -1)
    for step in ("sent", "delivered"):
        if values[f"{step}_at"] is not None:
            deltas.add(row.campaign_id, step, -1)
            values[f"{step}_at"] = None
    values.update(status="pending", wamid=None, next_attempt_at=retry_at)
    return True


def _write(session: Session, rows: list[_Row], now: datetime) -> None:
    """One conditional executemany per set of changed columns (usually one or two)."""
    groups: dict[tuple[str, ...], list[_Row]] = {}
    for row in rows:
        changed = tuple(c for c in _WRITTEN if row.values[c] != row.original[c])
        groups.setdefault(changed, []).append(row)
    check = session.get_bind().dialect.supports_sane_multi_rowcount
    for columns, group in groups.items():
        statement = _update_of(columns)
        parameters = [
            {"_id": row.id, "_status_read": row.original["status"], "_now": now}
            | {name: row.values[name] for name in columns}
            for row in group
        ]
        result = session.execute(
            statement, parameters, execution_options={"synchronize_session": False}
        )
        if check and result.rowcount != len(group):
            raise RuntimeError(
                f"{len(group) - result.rowcount} campaign messages changed while their status "
                "webhooks were applied; the batch is retried."
            )


@functools.cache
def _update_of(columns: tuple[str, ...]) -> Any:
    """The conditional UPDATE of ``columns`` (one statement object per column set)."""
    return (
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("_id"), _TABLE.c.status == bindparam("_status_read"))
        .values({name: bindparam(name) for name in columns} | {"updated_at": bindparam("_now")})
    )
