"""The campaign status machine: every move allowed and refused, and races between runs."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from core.campaigns.lifecycle import (
    ACTIONS,
    MESSAGE_TRANSITIONS,
    TRANSITIONS,
    CampaignStatus,
    MessageStatus,
    may_advance,
    may_move,
    transition,
)
from core.db import UnitOfWork
from core.errors import Conflict, NotFound
from sql.schema import Campaign
from tests.core.campaigns import builders

# The specification's table, written out independently of ACTIONS.
SPEC = {
    "draft": {"scheduled", "running"},
    "scheduled": {"draft", "scheduled", "running", "cancelled"},
    "running": {"paused", "completed", "failed", "cancelled"},
    "paused": {"running", "cancelled", "failed"},
    "completed": {"running"},  # reopen, only for an owner's retry of failed messages
    "failed": {"running"},
    "cancelled": set(),
}


def test_the_table_is_the_specification() -> None:
    assert {s.value: {t.value for t in targets} for s, targets in TRANSITIONS.items()} == SPEC


def test_every_move_is_allowed_or_refused_with_a_reason(uow: UnitOfWork) -> None:
    for status in CampaignStatus:
        for name, action in ACTIONS.items():
            with uow.begin() as session:
                campaign_id = builders.campaign(session, f"C {status} {name}", status=status).id
            with uow.begin() as session:
                if status in action.sources:
                    moved = transition(session, campaign_id, name, reason="why")
                    assert moved.status == action.target, (status, name)
                    assert moved.status_reason == "why"
                else:
                    with pytest.raises(Conflict) as refused:
                        transition(session, campaign_id, name)
                    message = refused.value.message
                    assert f"Campaign 'C {status} {name}' is " in message, message
                    assert refused.value.status_code == 409
            with uow.session() as session:
                stored = session.get(Campaign, campaign_id)
                assert stored is not None
                expected = action.target if status in action.sources else status
                assert stored.status == expected, (status, name)


def test_refusals_read_like_an_owner_would_say_them(uow: UnitOfWork) -> None:
    with uow.begin() as session:
        done = builders.campaign(session, "Promo", status="completed").id
        running = builders.campaign(session, "Flash", status="running").id
        draft = builders.campaign(session, "Draft", status="draft").id
    with uow.begin() as session:
        with pytest.raises(
            Conflict,
            match=r"^Campaign 'Promo' is completed; only paused "
            r"campaigns can be resumed\.$",
        ):
            transition(session, done, "resume")
        with pytest.raises(Conflict, match=r"^Campaign 'Flash' is already running\.$"):
            transition(session, running, "launch")
        with pytest.raises(
            Conflict, match="only scheduled, running or paused campaigns can be cancelled"
        ):
            transition(session, draft, "cancel")
        with pytest.raises(NotFound):
            transition(session, uuid.uuid4(), "pause")


def test_moves_stamp_their_times(uow: UnitOfWork) -> None:
    with uow.begin() as session:
        campaign_id = builders.campaign(session, "Promo", status="draft").id
    with uow.begin() as session:
        launched = transition(session, campaign_id, "launch")
        assert launched.started_at is not None
        paused = transition(session, campaign_id, "pause", reason="owner asked")
        assert paused.paused_at is not None and paused.status_reason == "owner asked"
        resumed = transition(session, campaign_id, "resume")
        assert resumed.paused_at is None and resumed.status_reason is None
        done = transition(session, campaign_id, "complete")
        assert done.completed_at is not None


@pytest.mark.parametrize("action,start", [("launch", "draft"), ("resume", "paused")])
def test_two_racing_sessions_exactly_one_wins(uow: UnitOfWork, action: str, start: str) -> None:
    with uow.begin() as session:
        campaign_id = builders.campaign(session, "Promo", status=start).id
    barrier = threading.Barrier(2)
    results: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            with uow.begin() as session:
                transition(session, campaign_id, action)
                time.sleep(0.3)  # hold the row while the other session tries
            results.append("won")
        except Conflict as exc:
            results.append(exc.message)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results)[-1] == "won" and results.count("won") == 1, results
    assert "Campaign 'Promo' is already running." in results


# --- messages -------------------------------------------------------------------------------


def test_message_statuses_only_move_forward() -> None:
    flow = ["pending", "sending", "sent", "delivered", "read"]
    for i, old in enumerate(flow):
        for j, new in enumerate(flow):
            assert may_advance(old, new) == (j > i), (old, new)


def test_duplicates_and_late_events_never_regress() -> None:
    assert not may_advance("read", "delivered")
    assert not may_advance("delivered", "sent")
    assert not may_advance("sent", "sent")
    assert not may_advance("delivered", "failed")
    assert may_advance("sent", "failed")
    assert may_advance("sending", "failed")


def test_failed_is_terminal_unless_an_owner_retries() -> None:
    for status in ("sent", "delivered", "read", "sending"):
        assert not may_advance("failed", status)
    assert not may_advance("failed", "pending")
    assert may_move("failed", "pending")


def test_the_sender_may_put_a_message_back_to_retry_but_webhooks_may_not() -> None:
    assert may_move("sending", "pending")
    assert not may_advance("sending", "pending")


def test_proof_of_sending_overrides_expired_and_cancelled() -> None:
    for given_up in ("expired", "cancelled"):
        assert may_advance(given_up, "sent")
        assert may_advance(given_up, "read")
        assert not may_advance(given_up, "pending")
        assert not may_advance(given_up, "sending")
    assert may_advance("pending", "expired") and not may_advance("sending", "expired")


def test_unknown_statuses_are_refused() -> None:
    assert not may_advance("pending", "bounced")
    assert not may_move("bounced", "sent")
    assert set(MESSAGE_TRANSITIONS) == set(MessageStatus)
