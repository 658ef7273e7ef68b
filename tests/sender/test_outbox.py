"""The outbox as a queue, on both engines: claims, every recorded answer, reconciliation."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.bootstrap import Siaran
from core.campaigns import cancel_unsent
from sender import outbox, results, workers
from sender.errors import classify
from sender.outbox import Claimed
from sender.results import ErrorRecord, Outcome
from sql.schema import AuditLog, CampaignMessage, ContactPreference, SenderWorker
from sql.types import utcnow
from tests.sender.harness import Rig


@pytest.fixture
def queue(siaran: Siaran) -> Rig:
    """An account and outboxes without a sandbox: nothing is posted here."""
    return Rig(siaran)


def claim(rig: Rig, campaign_id: uuid.UUID, worker: str = "w1", limit: int = 100, now=None):
    with rig.siaran.uow.begin() as session:
        return outbox.claim(session, campaign_id, worker, limit, now or utcnow())


def record(rig: Rig, *outcomes: Outcome) -> dict[uuid.UUID, results.Tally]:
    with rig.siaran.uow.begin() as session:
        return results.record(session, outcomes, utcnow())


def row(rig: Rig, message_id: uuid.UUID) -> CampaignMessage:
    with rig.siaran.uow.session() as session:
        found = session.get(CampaignMessage, message_id)
        assert found is not None
        return found


def error(code: int, http_status: int = 400) -> ErrorRecord:
    return ErrorRecord.of(classify(code, http_status, title=f"title {code}"))


def test_a_claim_marks_due_pending_messages_sending_before_anything_is_posted(queue: Rig):
    campaign = queue.campaign(5)
    other = queue.campaign(3)
    now = utcnow()
    claimed = claim(queue, campaign, limit=3, now=now)
    assert len(claimed) == 3
    assert {c.campaign_id for c in claimed} == {campaign}
    assert all(c.attempts == 1 for c in claimed)
    assert all(c.payload["biz_opaque_callback_data"] == str(c.id) for c in claimed)
    stored = row(queue, claimed[0].id)
    assert (stored.status, stored.claimed_by, stored.claimed_at) == ("sending", "w1", now)
    assert queue.statuses(campaign) == {"sending": 3, "pending": 2}
    assert queue.statuses(other) == {"pending": 3}
    assert len(claim(queue, campaign, worker="w2")) == 2
    assert claim(queue, campaign, worker="w3") == []


def test_messages_not_due_yet_are_not_claimed(queue: Rig) -> None:
    campaign = queue.campaign(2)
    later = utcnow() + timedelta(minutes=5)
    with queue.siaran.uow.begin() as session:
        first = session.scalars(select(CampaignMessage.id)).first()
        session.get(CampaignMessage, first).next_attempt_at = later
    assert len(claim(queue, campaign)) == 1
    assert [c.id for c in claim(queue, campaign, now=later)] == [first]


def test_concurrent_claimers_never_share_a_message(queue: Rig) -> None:
    campaign = queue.campaign(300)
    results: dict[str, list[Claimed]] = {}

    def claimer(name: str) -> None:
        got: list[Claimed] = []
        while batch := claim(queue, campaign, worker=name, limit=7):
            got += batch
        results[name] = got

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [c.id for got in results.values() for c in got]
    assert len(ids) == 300 == len(set(ids))


def test_a_sent_answer_records_the_wamid_counts_it_and_starts_the_cooldown(queue: Rig):
    campaign = queue.campaign(2)
    first, second = claim(queue, campaign)
    at = utcnow()
    tallies = record(queue, Outcome(first, "sent", at, wamid="wamid.A"))
    assert tallies[campaign].sent == 1
    stored = row(queue, first.id)
    assert (stored.status, stored.wamid, stored.sent_at, stored.claimed_by) == (
        "sent", "wamid.A", at, None,
    )  # fmt: skip
    assert queue.get(campaign).sent_count == 1
    with queue.siaran.uow.session() as session:
        preference = session.get(ContactPreference, first.contact_id)
        assert preference is not None and preference.last_broadcast_at == at
        assert not preference.opted_out
    assert row(queue, second.id).status == "sending"


def test_an_answer_applies_once_even_when_a_webhook_confirmed_it_first(queue: Rig):
    campaign = queue.campaign(1)
    (message,) = claim(queue, campaign)
    at = utcnow()
    with queue.siaran.uow.begin() as session:
        assert outbox.confirm_sent(session, [(message.id, "wamid.X", at)], now=at) == 1
    tallies = record(queue, Outcome(message, "sent", at, wamid="wamid.X"))
    assert tallies[campaign].sent == 0
    assert queue.get(campaign).sent_count == 1
    assert row(queue, message.id).status == "sent"


def test_a_permanent_error_fails_the_message_with_metas_code_and_message(queue: Rig):
    campaign = queue.campaign(1)
    (message,) = claim(queue, campaign)
    record(queue, Outcome(message, "failed", utcnow(), error=error(131026)))
    stored = row(queue, message.id)
    assert stored.status == "failed"
    assert (stored.error_code, stored.error_category, stored.error_title) == (
        131026, "recipient", "title 131026",
    )  # fmt: skip
    assert "could not be delivered" in stored.error_message
    assert "WhatsApp error 131026" in stored.error_message
    assert stored.failed_at is not None and stored.claimed_by is None
    assert queue.get(campaign).failed_count == 1


def test_131050_opts_the_contact_out_with_an_audit_record(queue: Rig) -> None:
    campaign = queue.campaign(1)
    (message,) = claim(queue, campaign)
    record(queue, Outcome(message, "failed", utcnow(), error=error(131050), opted_out=True))
    with queue.siaran.uow.session() as session:
        preference = session.get(ContactPreference, message.contact_id)
        assert preference is not None and preference.opted_out
        assert preference.opt_out_source == "whatsapp"
        assert "131050" in (preference.opt_out_reason or "")
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "contact.opt_out")).one()
        assert audit.target_id == str(message.contact_id)
        assert audit.actor_role == "system"


def test_a_retry_puts_the_message_back_with_its_wait_and_last_error(queue: Rig) -> None:
    campaign = queue.campaign(1)
    (message,) = claim(queue, campaign)
    later = utcnow() + timedelta(seconds=30)
    record(queue, Outcome(message, "retry", utcnow(), error=error(131000, 500),
                          next_attempt_at=later))  # fmt: skip
    stored = row(queue, message.id)
    assert (stored.status, stored.next_attempt_at, stored.attempts) == ("pending", later, 1)
    assert (stored.claimed_by, stored.error_code, stored.error_category) == (
        None, 131000, "transient",
    )  # fmt: skip
    assert claim(queue, campaign) == []
    (again,) = claim(queue, campaign, now=later)
    assert again.attempts == 2


def test_a_campaign_fatal_answer_returns_the_message_without_counting_the_attempt(queue: Rig):
    campaign = queue.campaign(1)
    (message,) = claim(queue, campaign)
    tallies = record(queue, Outcome(message, "fatal", utcnow(), error=error(190, 401)))
    assert [e.code for e in tallies[campaign].fatal] == [190]
    stored = row(queue, message.id)
    assert (stored.status, stored.attempts, stored.error_code) == ("pending", 0, 190)


def test_an_unconfirmed_send_waits_unclaimed_then_is_requeued(queue: Rig) -> None:
    campaign = queue.campaign(1)
    (message,) = claim(queue, campaign)
    deadline = utcnow() + timedelta(minutes=10)
    record(queue, Outcome(message, "unconfirmed", utcnow(), error=error(131000, 500),
                          next_attempt_at=deadline))  # fmt: skip
    stored = row(queue, message.id)
    assert (stored.status, stored.claimed_by, stored.next_attempt_at) == (
        "sending", None, deadline,
    )  # fmt: skip
    with queue.siaran.uow.begin() as session:
        assert outbox.requeue_unconfirmed(session, [campaign], utcnow(), max_attempts=5) == (0, 0)
    with queue.siaran.uow.begin() as session:
        assert outbox.requeue_unconfirmed(session, [campaign], deadline, max_attempts=5) == (1, 0)
    assert row(queue, message.id).status == "pending"


def test_an_unconfirmed_send_that_used_up_its_attempts_is_failed_not_resent(queue: Rig):
    campaign = queue.campaign(1)
    (message,) = claim(queue, campaign)
    record(queue, Outcome(message, "unconfirmed", utcnow(), next_attempt_at=utcnow()))
    with queue.siaran.uow.begin() as session:
        assert outbox.requeue_unconfirmed(session, [campaign], utcnow(), max_attempts=1) == (0, 1)
    stored = row(queue, message.id)
    assert stored.status == "failed"
    assert "did not send it again" in stored.error_message
    assert queue.get(campaign).failed_count == 1


@pytest.mark.parametrize("status", ["pending", "sending", "expired", "cancelled"])
def test_a_status_webhook_confirms_a_message_not_yet_recorded_as_sent(queue: Rig, status: str):
    campaign = queue.campaign(1)
    (message,) = claim(queue, campaign)
    with queue.siaran.uow.begin() as session:
        session.get(CampaignMessage, message.id).status = status
    at = utcnow()
    with queue.siaran.uow.begin() as session:
        assert outbox.confirm_sent(session, [(message.id, "wamid.Y", at)], now=at) == 1
    stored = row(queue, message.id)
    assert (stored.status, stored.wamid, stored.sent_at) == ("sent", "wamid.Y", at)
    assert queue.get(campaign).sent_count == 1


@pytest.mark.parametrize("status", ["sent", "delivered", "read", "failed"])
def test_a_status_webhook_never_moves_a_recorded_message(queue: Rig, status: str) -> None:
    campaign = queue.campaign(1)
    (message,) = claim(queue, campaign)
    with queue.siaran.uow.begin() as session:
        session.get(CampaignMessage, message.id).status = status
    with queue.siaran.uow.begin() as session:
        assert outbox.confirm_sent(session, [(message.id, "wamid.Z", utcnow())], now=utcnow()) == 0
    assert row(queue, message.id).status == status


def test_released_claims_go_back_to_pending_uncounted(queue: Rig) -> None:
    campaign = queue.campaign(3)
    claimed = claim(queue, campaign)
    with queue.siaran.uow.begin() as session:
        assert outbox.release(session, [c.id for c in claimed[:2]], "someone-else", utcnow()) == 0
        assert outbox.release(session, [c.id for c in claimed[:2]], "w1", utcnow()) == 2
    assert queue.statuses(campaign) == {"pending": 2, "sending": 1}
    assert row(queue, claimed[0].id).attempts == 0


def test_claims_of_a_dead_worker_wait_for_their_webhook(queue: Rig) -> None:
    campaign = queue.campaign(4)
    dead = claim(queue, campaign, worker="dead", limit=2)
    alive = claim(queue, campaign, worker="alive", limit=2)
    now = utcnow()
    deadline = now + timedelta(minutes=10)
    with queue.siaran.uow.begin() as session:
        released = outbox.release_orphans(
            session, [campaign], dead=["dead"], live=["alive"],
            stale_before=now - timedelta(seconds=20), reconcile_at=deadline, now=now,
        )  # fmt: skip
    assert released == 2
    assert {(row(queue, c.id).claimed_by, row(queue, c.id).status) for c in dead} == {
        (None, "sending")
    }
    assert {row(queue, c.id).claimed_by for c in alive} == {"alive"}
    assert row(queue, dead[0].id).next_attempt_at == deadline


def test_claims_of_a_vanished_worker_are_released_once_stale(queue: Rig) -> None:
    campaign = queue.campaign(1)
    assert claim(queue, campaign, worker="ghost")
    now = utcnow() + timedelta(minutes=1)
    with queue.siaran.uow.begin() as session:
        kept = outbox.release_orphans(
            session, [campaign], dead=[], live=["me"], stale_before=now - timedelta(minutes=2),
            reconcile_at=now, now=now,
        )  # fmt: skip
        released = outbox.release_orphans(
            session, [campaign], dead=[], live=["me"], stale_before=now - timedelta(seconds=20),
            reconcile_at=now, now=now,
        )  # fmt: skip
    assert (kept, released) == (0, 1)


def test_cancelling_the_unsent_leaves_answered_and_in_flight_messages(queue: Rig) -> None:
    campaign = queue.campaign(4)
    first, _ = claim(queue, campaign, limit=2)
    record(queue, Outcome(first, "sent", utcnow(), wamid="wamid.C"))
    with queue.siaran.uow.begin() as session:
        assert cancel_unsent(session, campaign, utcnow()) == 2
    assert queue.statuses(campaign) == {"sent": 1, "sending": 1, "cancelled": 2}


# --- workers ------------------------------------------------------------------------------


def test_a_worker_whose_process_died_is_dead_at_once(queue: Rig) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    now = utcnow()
    with queue.siaran.uow.begin() as session:
        workers.register(session, "me", queue.account_id, None, now)
        session.add(
            SenderWorker(id="crashed", hostname=workers.HOSTNAME, pid=gone.pid,
                         account_id=queue.account_id, started_at=now, heartbeat_at=now)
        )  # fmt: skip
    with queue.siaran.uow.begin() as session:
        peers, dead = workers.reap_and_list(session, queue.account_id, utcnow(), 20)
    assert (peers.live, dead) == (["me"], ["crashed"])
    with queue.siaran.uow.begin() as session:
        assert not workers.heartbeat(session, "crashed", utcnow())
        assert workers.heartbeat(session, "me", utcnow())


def test_a_silent_worker_elsewhere_is_dead_after_the_timeout(queue: Rig) -> None:
    now = utcnow()
    with queue.siaran.uow.begin() as session:
        for name, beat in (("quiet", now - timedelta(seconds=30)), ("busy", now)):
            session.add(
                SenderWorker(id=name, hostname="elsewhere", pid=os.getpid(),
                             account_id=queue.account_id, started_at=now, heartbeat_at=beat)
            )  # fmt: skip
    with queue.siaran.uow.begin() as session:
        peers, dead = workers.reap_and_list(session, queue.account_id, now, 20)
    assert (peers.live, dead) == (["busy"], ["quiet"])


def test_rates_are_split_between_the_live_workers(queue: Rig) -> None:
    campaign, other = uuid.uuid4(), uuid.uuid4()
    now = utcnow()
    with queue.siaran.uow.begin() as session:
        workers.register(session, "all", queue.account_id, None, now)
        workers.register(session, "one", queue.account_id, campaign, now)
    with queue.siaran.uow.begin() as session:
        peers, _ = workers.reap_and_list(session, queue.account_id, now, 20)
    assert peers.number_share == 2
    assert peers.campaign_share(campaign) == 2
    assert peers.campaign_share(other) == 1


def test_contacts_who_opted_out_since_the_launch_are_skipped(queue: Rig) -> None:
    campaign = queue.campaign(3)
    first = queue.messages(campaign)[0]
    with queue.siaran.uow.begin() as session:
        session.add(ContactPreference(contact_id=first.contact_id, opted_out=True))
    claimed = claim(queue, campaign)
    assert first.id not in {c.id for c in claimed} and len(claimed) == 2
    skipped = row(queue, first.id)
    assert (skipped.status, skipped.attempts, skipped.claimed_by) == ("cancelled", 0, None)
    assert "opted out after the campaign was launched" in skipped.error_message
