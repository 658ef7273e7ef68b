"""A driver of one campaign whose only work left is a retry hours ahead (131049) parks.

Parking (``park_after``) ends the run with reason "waiting" and leaves the campaign
running, the message pending with its retry time; the campaign sensor starts a new run
when it is due. Without ``park_after`` (``siaran send``, the API's local thread) the driver
keeps waiting, since nobody would start it again.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from core.bootstrap import Siaran
from core.sending import live_senders
from sql.schema import CampaignMessage
from sql.types import utcnow
from tests.sender.harness import FaultProxy, Rig, phone, wait_for

ENGAGEMENT_LIMITED = (400, 131049)  # Meta held the marketing message back: retry hours later


def held_back(rig: Rig, proxy: FaultProxy, size: int = 3) -> tuple[uuid.UUID, str]:
    """A running campaign whose last recipient gets 131049 once; (campaign, that number)."""
    campaign = rig.campaign(size, rate=50)
    last = phone(0, size - 1).lstrip("+")
    proxy.faults[last] = [ENGAGEMENT_LIMITED]
    return campaign, last


def test_a_driver_parks_when_only_a_retry_hours_ahead_is_left(
    rig: Rig, proxy: FaultProxy, siaran: Siaran
) -> None:
    campaign, last = held_back(rig, proxy)

    report = rig.run(campaign, park_after=300.0)

    assert (report.status, report.reason) == ("running", "waiting")
    assert rig.statuses(campaign) == {"sent": 2, "pending": 1}
    message = next(m for m in rig.messages(campaign) if m.phone.lstrip("+") == last)
    assert (message.error_code, message.claimed_by, message.attempts) == (131049, None, 1)
    assert message.next_attempt_at is not None
    assert message.next_attempt_at - utcnow() > timedelta(hours=2)  # 3-6 h with jitter
    assert report.next_due_at == message.next_attempt_at
    assert proxy.seen[last] == 1, "it was not retried early"
    campaign_row = rig.get(campaign)
    assert campaign_row.status == "running"
    with siaran.uow.session() as session:  # nothing serves it now: the sensor's turn
        assert live_senders(session, campaign_row, siaran.settings, utcnow()) == []


@pytest.mark.parametrize(
    "case", ["never parks", "retry within park_after", "another sender holds a message"]
)
def test_a_driver_keeps_waiting_while_it_must(
    rig: Rig, proxy: FaultProxy, siaran: Siaran, case: str
) -> None:
    campaign, _ = held_back(rig, proxy, size=4 if case.startswith("another") else 3)
    park_after = {"never parks": None, "retry within park_after": 8 * 3600.0}.get(case, 300.0)
    if case.startswith("another"):
        # Claimed just now by a sender of another process, which may be posting it this
        # moment (a claim keeps the message's earlier retry time: it says nothing).
        with siaran.uow.begin() as session:
            session.execute(
                update(CampaignMessage)
                .where(CampaignMessage.phone == phone(0, 0))
                .values(
                    status="sending",
                    claimed_by="elsewhere:1",
                    claimed_at=utcnow(),
                    next_attempt_at=utcnow() + timedelta(hours=8),
                )
            )
    running = rig.run_in_thread(campaign, park_after=park_after)
    wait_for(lambda: rig.statuses(campaign).get("pending") == 1, what="the retry scheduled")

    time.sleep(2.0)  # a parking driver ends within about a second of this

    assert running.thread.is_alive(), "the driver ended"
    running.stop.set()
    report = running.join()
    assert (report.status, report.reason, report.next_due_at) == ("running", "stopped", None)
    assert rig.statuses(campaign).get("pending") == 1
