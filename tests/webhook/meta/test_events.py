"""Meta-shaped events over real HTTP: what each does to messages, counters, consent, templates.

Processing follows the 200, so each test waits (briefly) for the effect.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, func, select

from core.bootstrap import Siaran
from core.campaign_counters import Counts
from core.webhooks import retry_due_events
from sql.schema import (
    Campaign,
    CampaignMessage,
    ContactPreference,
    WebhookEvent,
    WhatsAppAccount,
    WhatsAppTemplate,
)
from sql.types import utcnow
from tests.core.webhooks import builders
from tests.core.webhooks.builders import BrokenTable
from tests.core.webhooks.payloads import (
    button_message,
    encode,
    envelope,
    error,
    inbound_change,
    signature,
    status,
    statuses_change,
    template_status_change,
    text_message,
)
from tests.webhook.meta.conftest import Post, eventually


def _counts_settle(siaran: Siaran, campaign_id, expected: Counts, timeout: float = 2.0) -> None:
    """Counters reach ``expected`` within ``timeout`` (the 2-second promise) and match rows."""

    def check() -> bool:
        stored, truth = builders.counters(siaran, campaign_id)
        return stored == truth == expected

    eventually(check, timeout, f"counters {expected}")


@pytest.mark.usefixtures("account")
def test_every_status_reaches_the_message_and_the_counters(meta: Post, siaran: Siaran) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 4, status="sending", with_wamid=False)
    t0 = utcnow().replace(microsecond=0)
    w = [f"wamid.HTTP{i}" for i in range(4)]
    cb = [str(i) for i in sent.message_ids]
    assert (
        meta(
            envelope(statuses_change(*(status(w[i], "sent", t0, callback=cb[i]) for i in range(4))))
        ).status_code
        == 200
    )
    meta(
        envelope(
            statuses_change(
                status(w[1], "delivered", t0 + timedelta(seconds=1), callback=cb[1]),
                status(w[2], "delivered", t0 + timedelta(seconds=1), callback=cb[2]),
            )
        )
    )
    meta(envelope(statuses_change(status(w[2], "read", t0 + timedelta(seconds=9), callback=cb[2]))))
    failure = error(131026, "Message undeliverable", details="Message Undeliverable.")
    meta(
        envelope(
            statuses_change(
                status(w[3], "failed", t0 + timedelta(seconds=2), callback=cb[3], errors=[failure])
            )
        )
    )
    _counts_settle(siaran, sent.campaign_id, Counts(sent=4, delivered=2, read=1, failed=1))
    with siaran.uow.session() as session:
        rows = [builders.message(session, i) for i in sent.message_ids]
    assert [r.status for r in rows] == ["sent", "delivered", "read", "failed"]
    assert [r.wamid for r in rows] == w
    assert (rows[3].error_code, rows[3].error_title) == (131026, "Message undeliverable")


@pytest.mark.usefixtures("account")
def test_duplicates_and_reordering_over_http(meta: Post, siaran: Siaran) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 3)
    t0 = utcnow().replace(microsecond=0)
    w = sent.wamids
    bodies = [
        envelope(statuses_change(status(w[0], "read", t0 + timedelta(seconds=5)))),
        envelope(statuses_change(status(w[0], "delivered", t0 + timedelta(seconds=2)))),
        envelope(
            statuses_change(
                status(w[1], "delivered", t0), status(w[0], "read", t0 + timedelta(seconds=5))
            )
        ),
        envelope(statuses_change(status(w[2], "sent", t0))),
    ]
    for body in bodies + bodies[::-1]:
        assert meta(body).status_code == 200
    _counts_settle(siaran, sent.campaign_id, Counts(sent=3, delivered=2, read=1))
    with siaran.uow.session() as session:
        first = builders.message(session, sent.message_ids[0])
    assert (first.status, first.delivered_at) == ("read", t0 + timedelta(seconds=2))


@pytest.mark.usefixtures("account")
def test_131050_over_http_opts_the_contact_out(meta: Post, siaran: Siaran) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    stop = error(
        131050,
        "Unable to deliver the message. This recipient has chosen to stop "
        "receiving marketing messages on WhatsApp from your business.",
    )
    meta(envelope(statuses_change(status(sent.wamids[0], "failed", utcnow(), errors=[stop]))))
    _counts_settle(siaran, sent.campaign_id, Counts(sent=1, failed=1))

    def opted_out() -> bool:
        with siaran.uow.session() as session:
            preference = session.get(ContactPreference, sent.contact_ids[0])
            return bool(preference and preference.opted_out)

    eventually(opted_out, 2, "the 131050 opt-out")


@pytest.mark.usefixtures("account")
def test_replies_with_and_without_context(meta: Post, siaran: Siaran) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 2)
    now = utcnow().replace(microsecond=0)
    meta(
        envelope(
            inbound_change(
                text_message(
                    sent.phones[0][1:],
                    "Does it come in another color?",
                    now,
                    wamid="wamid.R1",
                    context=sent.wamids[0],
                )
            )
        )
    )
    meta(
        envelope(
            inbound_change(
                text_message(sent.phones[1][1:], "Berapa harganya kak?", now, wamid="wamid.R2")
            )
        )
    )
    _counts_settle(siaran, sent.campaign_id, Counts(sent=2, replied=2))
    with siaran.uow.session() as session:
        texts = [builders.message(session, i).reply_text for i in sent.message_ids]
    assert texts == ["Does it come in another color?", "Berapa harganya kak?"]


@pytest.mark.usefixtures("account")
@pytest.mark.parametrize(("out_word", "in_word"), [("BERHENTI", "MULAI"), ("STOP", "START")])
def test_opt_out_then_opt_in_over_http(
    meta: Post, siaran: Siaran, out_word: str, in_word: str
) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    now = utcnow().replace(microsecond=0)
    sender = sent.phones[0][1:]
    meta(
        envelope(
            inbound_change(
                text_message(sender, out_word, now, wamid="wamid.O1", context=sent.wamids[0])
            )
        )
    )
    _counts_settle(siaran, sent.campaign_id, Counts(sent=1, replied=1, opted_out=1))

    def preference() -> ContactPreference | None:
        with siaran.uow.session() as session:
            return session.get(ContactPreference, sent.contact_ids[0])

    found = preference()
    assert found is not None and found.opted_out and found.opt_out_source == "keyword"
    meta(
        envelope(
            inbound_change(
                text_message(sender, in_word.lower(), now + timedelta(minutes=1), wamid="wamid.O2")
            )
        )
    )
    eventually(lambda: not preference().opted_out, 2, "the opt-in")


@pytest.mark.usefixtures("account")
def test_the_quick_reply_stop_button_over_http(meta: Post, siaran: Siaran) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    meta(
        envelope(
            inbound_change(
                button_message(
                    sent.phones[0][1:],
                    "Stop promosi",
                    utcnow(),
                    wamid="wamid.B1",
                    context=sent.wamids[0],
                )
            )
        )
    )
    _counts_settle(siaran, sent.campaign_id, Counts(sent=1, replied=1, opted_out=1))


def test_a_paused_template_pauses_its_running_campaign_over_http(
    meta: Post, siaran: Siaran, account: WhatsAppAccount, owner
) -> None:
    with siaran.uow.begin() as session:
        template = builders.template(session, account)
        running = builders.campaign(session, template_id=template.id, account_id=account.id)
    meta(
        envelope(
            template_status_change(
                builders.TEMPLATE_META_ID, template.name, "PAUSED", reason="LOW_QUALITY"
            )
        )
    )

    def paused() -> bool:
        with siaran.uow.session() as session:
            campaign = session.get(Campaign, running.id)
            row = session.get(WhatsAppTemplate, template.id)
            return bool(campaign and row and campaign.status == "paused" and row.status == "PAUSED")

    eventually(paused, 2, "the campaign pause")


def test_a_processing_failure_is_kept_then_retried(
    meta: Post, siaran: Siaran, engine: Engine, account: WhatsAppAccount, owner_api: httpx.Client
) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    body = envelope(
        statuses_change(status(sent.wamids[0], "delivered", utcnow())),
        inbound_change(
            text_message(
                sent.phones[0][1:], "STOP", utcnow(), wamid="wamid.F", context=sent.wamids[0]
            )
        ),
    )

    def state() -> str | None:
        with siaran.uow.session() as session:
            return session.scalar(select(WebhookEvent.state))

    with BrokenTable(engine, "contact_preferences"):
        assert meta(body).status_code == 200  # stored: Meta must not resend it
        eventually(lambda: state() == "failed", 5, "the failure to be recorded")
    stats = owner_api.get("/api/webhooks/stats").json()
    assert stats["events_by_state"]["failed"] == 1
    assert "contact_preferences" in stats["last_error"]
    assert builders.counters(siaran, sent.campaign_id)[1] == Counts(sent=1)
    report = retry_due_events(siaran, now=utcnow() + timedelta(minutes=1))
    assert report.processed == 1
    assert state() == "processed"
    _counts_settle(siaran, sent.campaign_id, Counts(sent=1, delivered=1, replied=1, opted_out=1))


@pytest.mark.usefixtures("account")
@pytest.mark.parametrize("seed", [7])
def test_concurrent_shuffled_duplicated_posts_keep_counters_exact(
    meta: Post, siaran: Siaran, api: httpx.Client, seed: int
) -> None:
    """Several threads post every status (some twice, in other bodies) in random order."""
    rng = random.Random(seed)
    count = 90
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, count)
    t0 = utcnow().replace(microsecond=0) - timedelta(minutes=1)
    items, finals = [], {"delivered": 0, "read": 0, "failed": 0}
    for i, wamid in enumerate(sent.wamids):
        kind = ("delivered", "read", "failed")[i % 3]
        finals[kind] += 1
        if kind == "failed":
            items.append(
                status(wamid, "failed", t0 + timedelta(seconds=1), errors=[error(131026, "x")])
            )
            continue
        items.append(status(wamid, "delivered", t0 + timedelta(seconds=2)))
        if kind == "read":
            items.append(status(wamid, "read", t0 + timedelta(seconds=4)))
    copies = items * 2 + rng.sample(items, len(items) // 2)
    rng.shuffle(copies)
    bodies = []
    while copies:
        take = copies[: rng.randint(1, 5)]
        copies = copies[len(take) :]
        bodies.append(envelope(statuses_change(*take)))
    errors: list[int] = []
    started = time.monotonic()

    def post(share: list[dict]) -> None:
        with httpx.Client(base_url=str(api.base_url), timeout=10) as client:
            for body in share:
                raw = encode(body)
                answer = client.post(
                    "/webhook", content=raw, headers={"X-Hub-Signature-256": signature(raw)}
                )
                if answer.status_code != 200:
                    errors.append(answer.status_code)

    threads = [threading.Thread(target=post, args=(bodies[i::6],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    expected = Counts(
        sent=count,
        delivered=finals["delivered"] + finals["read"],
        read=finals["read"],
        failed=finals["failed"],
    )
    _counts_settle(siaran, sent.campaign_id, expected, timeout=2 + time.monotonic() - started)
    with siaran.uow.session() as session:
        by_status = dict(
            session.execute(
                select(CampaignMessage.status, func.count())
                .where(CampaignMessage.campaign_id == sent.campaign_id)
                .group_by(CampaignMessage.status)
            ).all()
        )
    assert by_status == finals
