"""Dashboard counts equal the rows in the database, for the roles that may read them."""

from __future__ import annotations

import pytest

from core.db import UnitOfWork
from core.errors import PermissionDenied
from core.permissions import Actor
from core.stats import dashboard_counts
from sql.schema import CAMPAIGN_STATUSES
from tests.core import crm_rows


def test_an_empty_database_counts_zero_with_every_campaign_status(
    uow: UnitOfWork, owner: Actor
) -> None:
    with uow.session() as session:
        counts = dashboard_counts(session, owner)
    assert (counts.contacts, counts.labels, counts.conversations, counts.segments) == (0, 0, 0, 0)
    assert list(counts.campaigns_by_status) == list(CAMPAIGN_STATUSES)
    assert counts.campaigns == 0


def test_counts_match_what_was_stored(uow: UnitOfWork, owner: Actor, supervisor: Actor) -> None:
    with uow.begin() as session:
        siti = crm_rows.contact(session, "Siti", "+6281234567001", labels=["vip", "promo"])
        budi = crm_rows.contact(session, "Budi", "+6281234567002", labels=["vip"])
        crm_rows.contact(session, "Ani", "+6281234567003")
        crm_rows.label(session, "unused")
        for _ in range(3):
            crm_rows.conversation(session, siti)
        crm_rows.conversation(session, budi, status="incoming")
        crm_rows.segment(session, "VIP")
        for name, status in [("a", "draft"), ("b", "draft"), ("c", "running"), ("d", "failed")]:
            crm_rows.campaign(session, name, status=status)
    with uow.session() as session:
        for actor in (owner, supervisor):
            counts = dashboard_counts(session, actor)
            assert (counts.contacts, counts.labels, counts.conversations) == (3, 3, 4)
            assert counts.segments == 1
            assert counts.campaigns == 4
            assert counts.campaigns_by_status == {
                "draft": 2, "scheduled": 0, "running": 1, "paused": 0,
                "completed": 0, "failed": 1, "cancelled": 0,
            }  # fmt: skip


def test_agents_may_not_read_the_dashboard(uow: UnitOfWork, agent: Actor) -> None:
    with uow.session() as session, pytest.raises(PermissionDenied, match="agent"):
        dashboard_counts(session, agent)
