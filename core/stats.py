"""Dashboard statistics: the counts the home page and the REST API show side by side."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.permissions import Actor, Permission, require
from sql.schema import CAMPAIGN_STATUSES, Campaign, Contact, Conversation, Label, Segment

DASHBOARD_PERMISSIONS = (
    Permission.CONTACT_READ,
    Permission.SEGMENT_READ,
    Permission.CAMPAIGN_READ,
)


@dataclass(frozen=True)
class DashboardCounts:
    """How much CRM data and campaign work there is, counted exactly."""

    contacts: int
    labels: int
    conversations: int
    segments: int
    # Every campaign status, zeros included, in lifecycle order.
    campaigns_by_status: dict[str, int]

    @property
    def campaigns(self) -> int:
        return sum(self.campaigns_by_status.values())


def dashboard_counts(session: Session, actor: Actor) -> DashboardCounts:
    """Counts of contacts, labels, conversations, segments and campaigns by status."""
    for permission in DASHBOARD_PERMISSIONS:
        require(actor, permission)
    by_status = dict.fromkeys(CAMPAIGN_STATUSES, 0)
    rows = session.execute(select(Campaign.status, func.count()).group_by(Campaign.status))
    for status, count in rows:
        by_status[status] = count
    return DashboardCounts(
        contacts=_count(session, Contact),
        labels=_count(session, Label),
        conversations=_count(session, Conversation),
        segments=_count(session, Segment),
        campaigns_by_status=by_status,
    )


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0
