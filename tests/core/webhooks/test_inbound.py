"""Inbound messages: replies attributed to campaign messages, keywords changing consent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.bootstrap import Siaran
from core.campaign_counters import Counts
from core.optouts import SOURCE_SENDER
from sql.schema import AuditLog, Contact, ContactPreference
from sql.types import utcnow
from tests.core.webhooks import builders
from tests.core.webhooks.conftest import Deliver
from tests.core.webhooks.payloads import (
    button_message,
    envelope,
    inbound_change,
    interactive_reply,
    preferences_change,
    reaction_message,
    text_message,
)

pytestmark = pytest.mark.usefixtures("account")


def _digits(phone: str) -> str:
    return phone.lstrip("+")


def _say(sender: str, body: str, at, *, wamid: str, context: str | None = None) -> dict:
    return envelope(
        inbound_change(text_message(_digits(sender), body, at, wamid=wamid, context=context))
    )


def _preference(siaran: Siaran, contact_id) -> ContactPreference | None:
    with siaran.uow.session() as session:
        return session.get(ContactPreference, contact_id)


def test_a_reply_with_context_is_recorded_once(siaran: Siaran, deliver: Deliver) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 2)
    now = utcnow().replace(microsecond=0)
    phone, wamid = sent.phones[0], sent.wamids[0]
    deliver(_say(phone, "Masih ada stok?", now, wamid="wamid.IN1", context=wamid))
    deliver(_say(phone, "Halo?", now + timedelta(minutes=1), wamid="wamid.IN2", context=wamid))
    with siaran.uow.session() as session:
        row = builders.message(session, sent.message_ids[0])
    assert (row.replied_at, row.reply_text, row.reply_wamid) == (
        now,
        "Masih ada stok?",
        "wamid.IN1",
    )
    # An earlier reply delivered late becomes the first one, without counting twice.
    deliver(_say(phone, "Pertama!", now - timedelta(seconds=30), wamid="wamid.IN0", context=wamid))
    with siaran.uow.session() as session:
        row = builders.message(session, sent.message_ids[0])
    assert (row.replied_at, row.reply_text) == (now - timedelta(seconds=30), "Pertama!")
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=2, replied=1)


def test_a_reply_without_context_goes_to_the_latest_message_in_the_window(
    siaran: Siaran, deliver: Deliver
) -> None:
    now = utcnow().replace(microsecond=0)
    with siaran.uow.begin() as session:
        old = builders.sent_campaign(session, 1, sent_at=now - timedelta(hours=30))
        newer_campaign = builders.campaign(session, name="Newer")
        session.flush()
        # The same customer got a second campaign later (same phone, other contact row).
        newer = builders.sent_campaign(
            session, 1, start=1, campaign_row=newer_campaign, sent_at=now - timedelta(hours=2)
        )
        builders.message(session, newer.message_ids[0]).phone = old.phones[0]
    deliver(_say(old.phones[0], "Berapa harganya kak?", now, wamid="wamid.IN9"))
    with siaran.uow.session() as session:
        assert builders.message(session, newer.message_ids[0]).reply_text == "Berapa harganya kak?"
        assert builders.message(session, old.message_ids[0]).replied_at is None
    assert builders.counters(siaran, newer.campaign_id)[0].replied == 1
    assert builders.counters(siaran, old.campaign_id)[0].replied == 0


def test_replies_outside_the_window_or_to_other_messages_are_not_campaign_replies(
    siaran: Siaran, deliver: Deliver
) -> None:
    now = utcnow().replace(microsecond=0)
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1, sent_at=now - timedelta(hours=80))
    report = deliver(
        _say(sent.phones[0], "Halo", now, wamid="wamid.A"),
        _say(sent.phones[0], "Re: agent", now, wamid="wamid.B", context="wamid.FROM-AN-AGENT"),
        envelope(
            inbound_change(
                reaction_message(_digits(sent.phones[0]), now, wamid="wamid.C", to=sent.wamids[0])
            )
        ),
    )
    assert report.inbound.replies == 0
    assert report.inbound.unattributed == 2  # the reaction is no reply at all
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=1)


@pytest.mark.parametrize(
    "text", ["STOP", " stop ", "Stop!", "BERHENTI", "berhenti.", "Unsubscribe", "s t o p"]
)
def test_opt_out_keywords_in_both_languages(siaran: Siaran, deliver: Deliver, text: str) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    at = utcnow().replace(microsecond=0)
    deliver(_say(sent.phones[0], text, at, wamid="wamid.OUT", context=sent.wamids[0]))
    preference = _preference(siaran, sent.contact_ids[0])
    assert preference is not None and preference.opted_out
    assert (preference.opted_out_at, preference.opt_out_source) == (at, "keyword")
    assert text.strip() in preference.opt_out_reason
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=1, replied=1, opted_out=1)


def test_a_sentence_containing_stop_is_not_an_opt_out(siaran: Siaran, deliver: Deliver) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    deliver(
        _say(
            sent.phones[0],
            "Jangan stop promonya ya",
            utcnow(),
            wamid="wamid.X",
            context=sent.wamids[0],
        )
    )
    assert _preference(siaran, sent.contact_ids[0]) is None


def test_the_stop_promosi_button_opts_out_once_however_often_tapped(
    siaran: Siaran, deliver: Deliver
) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    at = utcnow().replace(microsecond=0)
    sender = _digits(sent.phones[0])
    tap = envelope(
        inbound_change(
            button_message(sender, "Stop promosi", at, wamid="wamid.T1", context=sent.wamids[0])
        )
    )
    again = envelope(
        inbound_change(
            button_message(
                sender,
                "Stop promosi",
                at + timedelta(seconds=5),
                wamid="wamid.T2",
                context=sent.wamids[0],
            )
        )
    )
    deliver(tap, again)
    preference = _preference(siaran, sent.contact_ids[0])
    assert preference is not None and preference.opted_out
    assert (preference.opt_out_source, preference.opted_out_at) == ("button", at)
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=1, replied=1, opted_out=1)
    with siaran.uow.session() as session:
        audits = session.scalars(select(AuditLog).where(AuditLog.action == "contact.opt_out")).all()
    assert len(audits) == 1


def test_an_interactive_reply_can_be_a_keyword(siaran: Siaran, deliver: Deliver) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    deliver(
        envelope(
            inbound_change(
                interactive_reply(
                    _digits(sent.phones[0]),
                    "Unsubscribe",
                    utcnow(),
                    wamid="wamid.I",
                    context=sent.wamids[0],
                )
            )
        )
    )
    preference = _preference(siaran, sent.contact_ids[0])
    assert preference is not None and preference.opted_out


@pytest.mark.parametrize("word", ["MULAI", "start", "Mulai!"])
def test_opt_in_keywords_undo_an_opt_out(siaran: Siaran, deliver: Deliver, word: str) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    at = utcnow().replace(microsecond=0)
    deliver(_say(sent.phones[0], "BERHENTI", at, wamid="wamid.S", context=sent.wamids[0]))
    deliver(_say(sent.phones[0], word, at + timedelta(minutes=1), wamid="wamid.M"))
    preference = _preference(siaran, sent.contact_ids[0])
    assert preference is not None and not preference.opted_out
    assert preference.opted_in_at == at + timedelta(minutes=1)
    assert preference.opted_in_by is None  # the customer, not a profile
    # The campaign's opt-out stays counted: it happened.
    assert builders.counters(siaran, sent.campaign_id)[0].opted_out == 1


def test_stop_and_start_in_the_wrong_order_leave_the_last_wish(
    siaran: Siaran, deliver: Deliver
) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    at = utcnow().replace(microsecond=0)
    # STOP was written first, START a minute later, but START arrives (and is processed) first.
    deliver(_say(sent.phones[0], "START", at + timedelta(minutes=1), wamid="wamid.2"))
    deliver(_say(sent.phones[0], "STOP", at, wamid="wamid.1"))
    preference = _preference(siaran, sent.contact_ids[0])
    assert preference is not None and not preference.opted_out


def test_an_unknown_number_opting_out_becomes_a_contact_that_stays_opted_out(
    siaran: Siaran, deliver: Deliver
) -> None:
    at = utcnow().replace(microsecond=0)
    deliver(
        envelope(
            inbound_change(
                text_message("6285799998888", "STOP", at, wamid="wamid.U"), name="Rina Wijaya"
            )
        )
    )
    with siaran.uow.session() as session:
        contact = session.scalar(select(Contact).where(Contact.phone == "+6285799998888"))
        assert contact is not None and contact.name == "Rina Wijaya"
        preference = session.get(ContactPreference, contact.id)
        assert preference is not None and preference.opted_out
        assert session.scalar(
            select(AuditLog.action).where(
                AuditLog.target_id == str(contact.id), AuditLog.action == "contact.create"
            )
        )


def test_metas_marketing_stop_and_resume(siaran: Siaran, deliver: Deliver) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 2)
    at = utcnow().replace(microsecond=0)
    first, second = (_digits(p) for p in sent.phones)
    deliver(
        envelope(preferences_change(first, at, stop=True)),
        envelope(preferences_change(second, at, stop=True)),
    )
    for contact_id in sent.contact_ids:
        preference = _preference(siaran, contact_id)
        assert preference is not None and preference.opted_out
        assert preference.opt_out_source == "meta_marketing_opt_out"
    # Attributed like a reply: the latest campaign message to that number in the window.
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth == Counts(sent=2, opted_out=2)
    deliver(envelope(preferences_change(first, at + timedelta(minutes=5), stop=False)))
    first_preference = _preference(siaran, sent.contact_ids[0])
    assert first_preference is not None and not first_preference.opted_out


def test_metas_resume_reopens_an_opt_out_the_sender_learned_from_131050(
    siaran: Siaran, deliver: Deliver
) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
        at = utcnow().replace(microsecond=0)
        # What the sender stores when a send is answered 131050 at once.
        session.add(
            ContactPreference(
                contact_id=sent.contact_ids[0],
                opted_out=True,
                opted_out_at=at,
                opt_out_source=SOURCE_SENDER,
            )
        )
    deliver(
        envelope(preferences_change(_digits(sent.phones[0]), at + timedelta(minutes=1), stop=False))
    )
    preference = _preference(siaran, sent.contact_ids[0])
    assert preference is not None and not preference.opted_out


def test_metas_resume_does_not_undo_a_stop_the_customer_typed(
    siaran: Siaran, deliver: Deliver
) -> None:
    with siaran.uow.begin() as session:
        sent = builders.sent_campaign(session, 1)
    at = utcnow().replace(microsecond=0)
    deliver(_say(sent.phones[0], "STOP", at, wamid="wamid.K"))
    deliver(
        envelope(preferences_change(_digits(sent.phones[0]), at + timedelta(minutes=1), stop=False))
    )
    preference = _preference(siaran, sent.contact_ids[0])
    assert preference is not None and preference.opted_out
