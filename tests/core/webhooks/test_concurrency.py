"""Counters stay exactly equal to the messages under concurrent, duplicated, reordered delivery.

Several threads process the same shuffled statuses, replies and opt-outs, each in its own
transactions (on PostgreSQL truly in parallel, locking rows; on SQLite taking turns on the
database lock), every update delivered at least twice in different bodies.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.bootstrap import Siaran
from core.campaign_counters import Counts
from core.webhooks import Event, process_safely, read_body, retry_due_events
from core.webhooks.intake import store_events
from sql.schema import Campaign, CampaignMessage, WebhookEvent
from sql.types import utcnow
from tests.core.webhooks import builders
from tests.core.webhooks.payloads import (
    encode,
    envelope,
    error,
    inbound_change,
    status,
    statuses_change,
    text_message,
)

pytestmark = pytest.mark.usefixtures("account")

MESSAGES = 120
THREADS = 6
OUTCOMES = ("delivered", "read", "read_only", "failed", "replied", "opted_out")


def _updates(sent: builders.Sent, crashed: set[int], rng: random.Random) -> tuple[list[dict], dict]:
    """Each message's updates (statuses as items, inbound as whole changes) and the truth."""
    t0 = utcnow().replace(microsecond=0) - timedelta(minutes=1)
    items: list[tuple[str, Any]] = []
    final: Counter[str] = Counter()
    expected = Counts(sent=MESSAGES)
    for i, (wamid, phone) in enumerate(zip(sent.wamids, sent.phones, strict=True)):
        outcome = OUTCOMES[i % len(OUTCOMES)]
        callback = str(sent.message_ids[i]) if i in crashed else None

        def add(state: str, seconds: int, errors: list | None = None, *, _w=wamid, _c=callback):
            items.append(
                (
                    "status",
                    status(_w, state, t0 + timedelta(seconds=seconds), callback=_c, errors=errors),
                )
            )

        add("sent", 0)
        if outcome == "failed":
            add("failed", 2, [error(131026, "Message undeliverable")])
            final["failed"] += 1
            expected.failed += 1
            continue
        if outcome != "read_only":
            add("delivered", 2)
        expected.delivered += 1
        if outcome == "delivered":
            final["delivered"] += 1
            continue
        add("read", 5)
        expected.read += 1
        final["read"] += 1
        if outcome in ("replied", "opted_out"):
            text = "STOP" if outcome == "opted_out" else "Masih ada?"
            message = text_message(
                phone.lstrip("+"),
                text,
                t0 + timedelta(seconds=9),
                wamid=f"wamid.IN{i}",
                context=wamid,
            )
            items.append(("inbound", inbound_change(message)))
            expected.replied += 1
            expected.opted_out += outcome == "opted_out"
    # Every update travels at least twice, in differently composed bodies.
    copies = [item for item in items for _ in range(2)] + rng.sample(items, len(items) // 3)
    rng.shuffle(copies)
    bodies = []
    while copies:
        take = copies[: rng.randint(1, 6)]
        copies = copies[len(take) :]
        statuses = [value for kind, value in take if kind == "status"]
        changes = [value for kind, value in take if kind == "inbound"]
        if statuses:
            changes.insert(0, statuses_change(*statuses))
        bodies.append(envelope(*changes))
    return bodies, {"final": final, "counts": expected}


@pytest.mark.parametrize("seed", [1, 2])
def test_counters_equal_the_messages_under_concurrent_duplicated_reordered_delivery(
    siaran: Siaran, seed: int
) -> None:
    rng = random.Random(seed)
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, MESSAGES)
        # Some messages crashed between the call and the commit: "sending", no wamid yet.
        crashed = set(rng.sample(range(MESSAGES), MESSAGES // 10))
        for i in crashed:
            row = builders.message(session, sent.message_ids[i])
            row.status, row.wamid, row.sent_at = "sending", None, None
        campaign = session.get(Campaign, sent.campaign_id)
        assert campaign is not None
        campaign.sent_count -= len(crashed)
    bodies, truth = _updates(sent, crashed, rng)
    with siaran.uow.begin() as session:
        stored = store_events(session, [read_body(encode(b)) for b in bodies])
    events = [Event(s.event_id, s.body.payload) for s in stored if not s.duplicate]
    rng.shuffle(events)
    shares = [events[i::THREADS] for i in range(THREADS)]
    failures: list[BaseException] = []

    def work(share: list[Event]) -> None:
        try:
            local = random.Random(len(share))
            while share:
                size = local.randint(1, 8)
                batch, share[:] = share[:size], share[size:]
                process_safely(siaran, batch)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures
    # A deadlock or lock conflict only ever delays an event: the retry job finishes it.
    for _ in range(5):
        if not retry_due_events(siaran, now=utcnow() + timedelta(hours=2)).claimed:
            break
    with siaran.uow.session() as session:
        unprocessed = session.scalar(
            select(func.count()).select_from(WebhookEvent).where(WebhookEvent.state != "processed")
        )
        by_status = dict(
            session.execute(
                select(CampaignMessage.status, func.count())
                .where(CampaignMessage.campaign_id == sent.campaign_id)
                .group_by(CampaignMessage.status)
            ).all()
        )
    assert unprocessed == 0
    assert by_status == dict(truth["final"])
    stored_counts, recount = builders.counters(siaran, sent.campaign_id)
    assert recount == truth["counts"]
    assert stored_counts == recount
