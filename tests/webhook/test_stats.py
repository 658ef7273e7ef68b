"""Home-page counts over HTTP."""

from __future__ import annotations

import httpx

from core.db import UnitOfWork
from sql.schema import CAMPAIGN_STATUSES, Campaign, Contact, Segment


def test_counts_contacts_segments_and_campaigns_by_status(
    owner_api: httpx.Client, supervisor_api: httpx.Client, uow: UnitOfWork
) -> None:
    with uow.begin() as session:
        session.add_all([Contact(name=f"C{i}", phone=f"+62812000000{i:02d}") for i in range(3)])
        session.add(Segment(name="VIP Bandung"))
        session.add_all(
            [Campaign(name="a", status="draft"), Campaign(name="b", status="draft"),
             Campaign(name="c", status="completed")]
        )  # fmt: skip
    for client in (owner_api, supervisor_api):
        response = client.get("/api/stats")
        assert response.status_code == 200
        stats = response.json()
        assert (stats["contacts"], stats["segments"], stats["labels"]) == (3, 1, 0)
        assert stats["campaigns"]["total"] == 3
        assert stats["campaigns"]["by_status"] == dict.fromkeys(CAMPAIGN_STATUSES, 0) | {
            "draft": 2,
            "completed": 1,
        }


def test_agent_cannot_read_stats(agent_api: httpx.Client) -> None:
    assert agent_api.get("/api/stats").status_code == 403
