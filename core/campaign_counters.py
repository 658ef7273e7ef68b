"""A campaign's live counters and the per-message truth they must always equal.

    counter           equals, over the campaign's messages
    sent_count        COUNT(*) WHERE sent_at IS NOT NULL        (WhatsApp accepted it)
    delivered_count   COUNT(*) WHERE delivered_at IS NOT NULL
    read_count        COUNT(*) WHERE read_at IS NOT NULL
    failed_count      COUNT(*) WHERE status = 'failed'
    replied_count     COUNT(*) WHERE replied_at IS NOT NULL
    opted_out_count   COUNT(*) WHERE opted_out_at IS NOT NULL

Counters move only together with the row that justifies them, in the same transaction,
and only when the row actually changed (a timestamp went from NULL to a value, the status
to or from failed). A ``read`` implies ``delivered`` and ``sent`` (a message read was
delivered), so one read can add to three counters, once. ``truth`` recounts from the
messages; tests and the repair command compare the two.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from sql.schema import Campaign, CampaignMessage

FIELDS = ("sent", "delivered", "read", "failed", "replied", "opted_out")


@dataclass
class Counts:
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    replied: int = 0
    opted_out: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in FIELDS}

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in FIELDS)


class Deltas:
    """Counter changes per campaign, gathered over a batch and written once per campaign."""

    def __init__(self) -> None:
        self._by_campaign: dict[uuid.UUID, Counts] = defaultdict(Counts)

    def add(self, campaign_id: uuid.UUID, name: str, amount: int = 1) -> None:
        counts = self._by_campaign[campaign_id]
        setattr(counts, name, getattr(counts, name) + amount)

    def items(self) -> list[tuple[uuid.UUID, Counts]]:
        # Campaign rows are locked in id order, so concurrent batches cannot deadlock.
        return sorted(((k, v) for k, v in self._by_campaign.items() if v), key=lambda kv: kv[0])

    def total(self, name: str) -> int:
        return sum(getattr(c, name) for c in self._by_campaign.values())

    def apply(self, session: Session) -> None:
        """Add the gathered changes to the campaigns' counters (one UPDATE per campaign)."""
        columns = {
            "sent": Campaign.sent_count,
            "delivered": Campaign.delivered_count,
            "read": Campaign.read_count,
            "failed": Campaign.failed_count,
            "replied": Campaign.replied_count,
            "opted_out": Campaign.opted_out_count,
        }
        for campaign_id, counts in self.items():
            values = {
                column.key: column + getattr(counts, name)
                for name, column in columns.items()
                if getattr(counts, name)
            }
            session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )


def _count(condition: object) -> object:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def truth(session: Session, campaign_id: uuid.UUID) -> Counts:
    """The counters recomputed from the campaign's messages."""
    m = CampaignMessage
    row = session.execute(
        select(
            _count(m.sent_at.is_not(None)),
            _count(m.delivered_at.is_not(None)),
            _count(m.read_at.is_not(None)),
            _count(m.status == "failed"),
            _count(m.replied_at.is_not(None)),
            _count(m.opted_out_at.is_not(None)),
        ).where(m.campaign_id == campaign_id)
    ).one()
    return Counts(*(int(value) for value in row))


def stored(session: Session, campaign_id: uuid.UUID) -> Counts:
    """The counters as stored on the campaign."""
    c = Campaign
    row = session.execute(
        select(
            c.sent_count, c.delivered_count, c.read_count, c.failed_count, c.replied_count,
            c.opted_out_count,
        ).where(c.id == campaign_id)
    ).one()  # fmt: skip
    return Counts(*(int(value) for value in row))
