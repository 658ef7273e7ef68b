"""A campaign's messages, failures and replies, live, as each role may see them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from core.analytics import messages
from core.bootstrap import Siaran
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.permissions import Actor
from tests.core.analytics.scenario import T0, Scenario


def test_failed_messages_say_whether_an_owner_may_retry_them(
    siaran: Siaran, owner: Actor, shop: Scenario
) -> None:
    with siaran.uow.session() as session:
        page = messages.list_messages(session, owner, shop.campaign_id, status="failed")
        groups = messages.failure_groups(session, owner, shop.campaign_id)
    assert page.total == 2 and not page.has_more
    found = {item.id: item for item in page.items}
    never_sent, transient = found[shop.messages["m7"]], found[shop.messages["m8"]]
    assert (never_sent.error_code, never_sent.error_category, never_sent.retryable) == (
        131026, "recipient", False,
    )  # fmt: skip
    assert (transient.error_category, transient.retryable) == ("transient", True)
    assert never_sent.phone == "+6281100000007" and not never_sent.phone_masked
    assert sorted((g.error_code, g.count, g.retryable) for g in groups) == [
        (131000, 1, True), (131026, 1, False),
    ]  # fmt: skip


def test_supervisors_see_masked_numbers_and_agents_nothing(
    siaran: Siaran, supervisor: Actor, agent: Actor, shop: Scenario
) -> None:
    with siaran.uow.session() as session:
        page = messages.list_messages(session, supervisor, shop.campaign_id, limit=3, offset=3)
        assert page.total == 10 and len(page.items) == 3 and page.has_more
        assert all(item.phone_masked and "•" in item.phone for item in page.items)
        for call in (messages.list_messages, messages.list_replies, messages.failure_groups):
            with pytest.raises(PermissionDenied):
                call(session, agent, shop.campaign_id)


def test_pages_cover_every_message_once(siaran: Siaran, owner: Actor, shop: Scenario) -> None:
    seen: list[uuid.UUID] = []
    with siaran.uow.session() as session:
        for offset in range(0, 10, 4):
            seen += [m.id for m in messages.list_messages(
                session, owner, shop.campaign_id, limit=4, offset=offset).items]  # fmt: skip
    assert sorted(seen) == sorted(v for k, v in shop.messages.items() if k != "other")


def test_bad_filters_and_foreign_messages_are_refused(
    siaran: Siaran, owner: Actor, shop: Scenario
) -> None:
    with siaran.uow.session() as session:
        with pytest.raises(InvalidInput, match="Unknown message status 'bounced'"):
            messages.list_messages(session, owner, shop.campaign_id, status="bounced")
        with pytest.raises(InvalidInput, match="limit"):
            messages.list_messages(session, owner, shop.campaign_id, limit=0)
        with pytest.raises(NotFound):
            messages.get_message(session, owner, shop.campaign_id, shop.messages["other"])
        with pytest.raises(NotFound):
            messages.list_messages(session, owner, uuid.uuid4())


def test_a_message_timeline_is_in_order(siaran: Siaran, owner: Actor, shop: Scenario) -> None:
    with siaran.uow.session() as session:
        item = messages.get_message(session, owner, shop.campaign_id, shop.messages["m10"])
    assert [step["event"] for step in item.timeline()] == [
        "sent", "delivered", "read", "replied", "opted_out",
    ]  # fmt: skip
    assert item.seconds("delivered") == 60 and item.seconds("replied") == 26 * 3600
    assert item.seconds("failed") is None


def test_replies_newest_first_with_time_to_reply(
    siaran: Siaran, supervisor: Actor, shop: Scenario
) -> None:
    with siaran.uow.session() as session:
        page = messages.list_replies(session, supervisor, shop.campaign_id)
    assert page.total == 3
    assert [(r.reply_text, r.seconds_to_reply) for r in page.items] == [
        ("STOP", 93600), ("Berapa harganya?", 7200), ("Mau dong", 600),
    ]  # fmt: skip
    assert page.items[0].replied_at == T0 + timedelta(hours=26)
    assert page.items[0].contact_name == "Customer 10" and page.items[0].phone_masked
