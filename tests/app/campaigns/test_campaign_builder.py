"""The Campaign Builder wizard, end to end, against each engine's database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.bootstrap import Siaran
from core.campaigns import create_campaign, schedule_campaign
from core.db import UnitOfWork
from core.permissions import Actor
from sql.schema import AuditLog, Campaign
from tests.app.campaigns.conftest import Shop, open_page
from tests.app.conftest import reset_caches, texts

BUILDER = "campaign_builder.py"


def builder(signed_in: Callable[[str], AppTest], owner: Actor) -> AppTest:
    at = open_page(signed_in, owner.email, BUILDER)
    assert at.title[0].value == "Campaign builder"
    return at


def next_step(at: AppTest) -> AppTest:
    at.button(key="cb_next").click().run()
    assert not at.exception, at.exception
    return at


def step_title(at: AppTest) -> str:
    return at.subheader[0].value


def audience(at: AppTest, shop: Shop, name: str = "Promo gajian") -> AppTest:
    at.text_input(key="cb_w_name").input(name).run()
    at.selectbox(key="cb_w_segment").select(str(shop.segment_id)).run()
    return at


def campaigns(uow: UnitOfWork) -> list[Campaign]:
    with uow.session() as session:
        return list(session.scalars(select(Campaign).order_by(Campaign.created_at)))


def spring_forward(zone: str) -> tuple[date, time]:
    """A wall-clock time next year that does not exist in ``zone`` (the DST gap)."""
    tz = ZoneInfo(zone)
    year = datetime.now(UTC).year + 1
    for day in range(1, 32):
        naive = datetime(year, 3, day, 2, 30)
        if naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
            return naive.date(), naive.time()
    raise AssertionError(f"no spring-forward gap in March {year} in {zone}")


def test_the_wizard_saves_a_draft_and_back_keeps_every_value(
    signed_in: Callable[[str], AppTest], owner: Actor, shop: Shop, uow: UnitOfWork
) -> None:
    at = audience(builder(signed_in, owner), shop)
    # The estimate: 4 members, Citra opted out.
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Segment members": "4", "Would receive": "3", "Opted out": "1",
                       "In cooldown": "0"}  # fmt: skip
    next_step(at)
    assert step_title(at) == "Step 2 of 4: Message"
    at.text_area(key="cb_w_body").input("Halo {name} di {city}!").run()
    at.text_input(key="cb_w_fallback_city").input("kota Anda").run()
    assert "Halo Ani di Bandung!" in at.html[0].value  # the live preview, as a bubble
    assert "wa-bubble" in at.html[0].value
    next_step(at)
    assert step_title(at) == "Step 3 of 4: Schedule"
    at.number_input(key="cb_w_rate_limit").set_value(35).run()
    # Back twice: everything entered is still there.
    at.button(key="cb_back").click().run()
    assert at.text_area(key="cb_w_body").value == "Halo {name} di {city}!"
    assert at.text_input(key="cb_w_fallback_city").value == "kota Anda"
    at.button(key="cb_back").click().run()
    assert at.text_input(key="cb_w_name").value == "Promo gajian"
    assert at.selectbox(key="cb_w_segment").value == str(shop.segment_id)
    next_step(next_step(at))
    assert at.number_input(key="cb_w_rate_limit").value == 35
    next_step(at)
    assert step_title(at) == "Step 4 of 4: Review & send"
    assert "**Recipients:** 3 of 4 segment members (left out: 1 opted out)" in texts(at)
    assert not at.error
    assert not campaigns(uow)  # nothing is stored before the owner saves

    at.button(key="cb_save_draft").click().run()
    assert not at.exception and not at.error
    assert "Draft 'Promo gajian' saved." in at.success[0].value
    [stored] = campaigns(uow)
    assert stored.status == "draft" and stored.name == "Promo gajian"
    assert stored.segment_id == shop.segment_id and stored.rate_limit == 35
    assert stored.message_type == "text" and stored.created_by == owner.id
    assert stored.message_content == {
        "body": "Halo {name} di {city}!",
        "fallbacks": {"city": "kota Anda"},
    }
    assert at.query_params["campaign"] == str(stored.id)
    # Saving again updates the same draft instead of creating another.
    at.button(key="cb_back").click().run()
    at.number_input(key="cb_w_rate_limit").set_value(40).run()
    next_step(at).button(key="cb_save_draft").click().run()
    [stored] = campaigns(uow)
    assert stored.rate_limit == 40
    with uow.session() as session:
        actions = list(session.scalars(select(AuditLog.action).where(
            AuditLog.target_id == str(stored.id)).order_by(AuditLog.created_at)))  # fmt: skip
    assert actions == ["campaign.create", "campaign.update"]


def test_the_wizard_schedules_in_a_non_utc_zone(
    signed_in: Callable[[str], AppTest], owner: Actor, shop: Shop, uow: UnitOfWork
) -> None:
    at = next_step(audience(builder(signed_in, owner), shop, "Promo New York"))
    at.text_area(key="cb_w_body").input("Halo {name}!").run()
    next_step(at)
    at.radio(key="cb_w_send_mode").set_value("later").run()
    assert at.selectbox(key="cb_w_timezone").value == "Asia/Jakarta"  # the default
    start = date(datetime.now(UTC).year + 1, 7, 1)
    at.date_input(key="cb_w_send_date").set_value(start)
    at.time_input(key="cb_w_send_time").set_value(time(9, 0))
    at.selectbox(key="cb_w_timezone").select("America/New_York").run()
    assert f"That is {start:%Y-%m-%d} 13:00 UTC" in texts(at)  # EDT is UTC-4
    next_step(at)
    assert f"**Starts:** {start:%a %Y-%m-%d} 09:00 America/New_York" in texts(at)
    at.button(key="cb_schedule").click().run()
    assert not at.exception, at.exception

    [stored] = campaigns(uow)
    assert stored.status == "scheduled" and stored.timezone == "America/New_York"
    assert stored.scheduled_at == datetime(start.year, 7, 1, 13, 0, tzinfo=UTC)
    # Done: the Campaigns page says so, in the campaign's own clock.
    assert at.title[0].value == "Campaigns"
    assert at.success[0].value == (
        f"Campaign 'Promo New York' is scheduled for {start:%a %Y-%m-%d} 09:00 America/New_York."
    )
    table = at.dataframe[0].value
    assert list(table["Starts (local time)"]) == [f"{start:%a %Y-%m-%d} 09:00 America/New_York"]


def test_each_step_shows_what_is_missing_and_keeps_the_values(
    signed_in: Callable[[str], AppTest], owner: Actor, shop: Shop
) -> None:
    at = next_step(builder(signed_in, owner))
    assert step_title(at) == "Step 1 of 4: Audience"
    assert "Give the campaign a name." in at.error[0].value
    assert "Choose a segment" in at.error[0].value

    at = next_step(audience(at, shop))
    next_step(at)  # an empty text
    assert step_title(at) == "Step 2 of 4: Message"
    assert "The message text is empty." in at.error[0].value
    at.radio(key="cb_w_message_type").set_value("image").run()
    at.text_input(key="cb_w_link").input("http://insecure.example/x.jpg").run()
    next_step(at)
    assert "Link: expected a public https:// address" in at.error[0].value
    at.text_input(key="cb_w_link").input("https://toko.example/promo.jpg").run()
    next_step(at)
    assert step_title(at) == "Step 3 of 4: Schedule"

    at.radio(key="cb_w_send_mode").set_value("later").run()
    gap_date, gap_time = spring_forward("America/New_York")
    at.date_input(key="cb_w_send_date").set_value(gap_date)
    at.time_input(key="cb_w_send_time").set_value(gap_time)
    at.selectbox(key="cb_w_timezone").select("America/New_York").run()
    assert "does not exist" in at.error[0].value  # said at once, under the time
    next_step(at)
    assert step_title(at) == "Step 3 of 4: Schedule"
    assert any("daylight saving time" in e.value and "Before going on" in e.value for e in at.error)
    at.date_input(key="cb_w_send_date").set_value(date(2020, 1, 6)).run()
    next_step(at)
    assert any("has already passed" in e.value for e in at.error)
    assert at.selectbox(key="cb_w_timezone").value == "America/New_York"
    at.toggle(key="cb_w_expires").set_value(True).run()
    at.date_input(key="cb_w_send_date").set_value(date(datetime.now(UTC).year + 1, 7, 1))
    at.date_input(key="cb_w_expiry_date").set_value(date(datetime.now(UTC).year + 1, 6, 1)).run()
    next_step(at)
    assert any("The deadline must come after the campaign starts" in e.value for e in at.error)
    at.toggle(key="cb_w_expires").set_value(False).run()
    next_step(at)
    assert step_title(at) == "Step 4 of 4: Review & send"
    assert not at.exception


def test_missing_values_are_reported_before_sending(
    signed_in: Callable[[str], AppTest], owner: Actor, shop: Shop
) -> None:
    at = next_step(audience(builder(signed_in, owner), shop))
    at.text_area(key="cb_w_body").input("Promo khusus {city}!").run()
    # Dedi has no city and there is no fallback: counted over the recipients (not Citra).
    report = next(w.value for w in at.warning if "Missing values" in w.value)
    assert "{city}: 1 of 3 recipients have no value and no fallback; they will be skipped." in (
        report
    )
    next_step(next_step(at))
    assert any(
        "{city}: 1 of 3 recipients have no value and no fallback; they will be skipped." in w.value
        for w in at.warning
    )
    # A fallback covers Dedi: the warning goes.
    at.button(key="cb_back").click().run()
    at.button(key="cb_back").click().run()
    at.text_input(key="cb_w_fallback_city").input("kota Anda").run()
    assert not any("Missing values" in w.value for w in at.warning)
    next_step(next_step(at))
    assert not any("no value and no fallback" in w.value for w in at.warning)


def test_a_stored_draft_reopens_from_its_address(
    signed_in: Callable[[str], AppTest], owner: Actor, shop: Shop, uow: UnitOfWork
) -> None:
    with uow.begin() as session:
        draft = create_campaign(
            session, owner,
            {"name": "Draf lama", "segment_id": shop.segment_id, "rate_limit": 50,
             "message_content": {"body": "Hai {name}"}},
        ).id  # fmt: skip
    at = signed_in(owner.email)
    at.switch_page(f"views/{BUILDER}")
    at.query_params["campaign"] = str(draft)
    at.run()
    assert not at.exception and not at.error
    assert at.text_input(key="cb_w_name").value == "Draf lama"
    assert at.selectbox(key="cb_w_segment").value == str(shop.segment_id)
    assert "Editing the stored draft 'Draf lama'." in texts(at)
    next_step(at)
    assert at.text_area(key="cb_w_body").value == "Hai {name}"
    at.text_area(key="cb_w_body").input("Hai {name}, apa kabar?").run()
    next_step(next_step(at)).button(key="cb_save_draft").click().run()
    [stored] = campaigns(uow)
    assert stored.id == draft and stored.message_content == {"body": "Hai {name}, apa kabar?"}
    assert stored.rate_limit == 50


@pytest.mark.parametrize("address", ["not-a-uuid", "6f1c2a9e-0b7d-4c61-9a53-2d8e4f0b1c77"])
def test_an_address_that_names_no_draft_says_so(
    signed_in: Callable[[str], AppTest], owner: Actor, address: str
) -> None:
    at = signed_in(owner.email)
    at.switch_page(f"views/{BUILDER}")
    at.query_params["campaign"] = address
    at.run()
    assert not at.exception
    assert "not a campaign id" in at.error[0].value or "does not exist" in at.error[0].value
    assert not at.text_input  # no wizard for it


def test_a_launched_campaign_does_not_open_in_the_builder(
    signed_in: Callable[[str], AppTest], owner: Actor, shop: Shop, uow: UnitOfWork
) -> None:
    with uow.begin() as session:
        running = Campaign(name="Sudah jalan", status="running", segment_id=shop.segment_id)
        session.add(running)
    at = signed_in(owner.email)
    at.switch_page(f"views/{BUILDER}")
    at.query_params["campaign"] = str(running.id)
    at.run()
    assert "Campaign 'Sudah jalan' is running; only drafts and scheduled" in at.error[0].value


def test_supervisors_and_agents_cannot_open_the_builder(
    signed_in: Callable[[str], AppTest], supervisor: Actor, agent: Actor
) -> None:
    for who in (supervisor, agent):
        at = signed_in(who.email)
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"views/{BUILDER}")


def test_a_large_campaign_is_flagged_when_the_segment_is_chosen(
    signed_in: Callable[[str], AppTest],
    owner: Actor,
    shop: Shop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIARAN_CAMPAIGN_LARGE_THRESHOLD", "3")
    reset_caches()
    at = audience(builder(signed_in, owner), shop)
    assert any("This is a large campaign: 3 recipients" in w.value for w in at.warning)


def test_a_scheduled_campaign_reopens_and_moves_to_a_new_time(
    signed_in: Callable[[str], AppTest],
    owner: Actor,
    shop: Shop,
    uow: UnitOfWork,
    siaran: Siaran,
) -> None:
    year = datetime.now(UTC).year + 1
    with uow.begin() as session:
        planned = create_campaign(
            session, owner,
            {"name": "Jadwal", "segment_id": shop.segment_id,
             "message_content": {"body": "Hai {name}"}},
        ).id  # fmt: skip
        schedule_campaign(
            session, owner, planned, local_date=date(year, 2, 1), local_time=time(8, 0),
            timezone="Asia/Makassar", settings=siaran.settings,
        )  # fmt: skip
    at = signed_in(owner.email)
    at.switch_page(f"views/{BUILDER}")
    at.query_params["campaign"] = str(planned)
    at.run()
    assert "This campaign is scheduled." in at.info[0].value
    next_step(next_step(at))
    assert at.radio(key="cb_w_send_mode").value == "later"
    assert at.date_input(key="cb_w_send_date").value == date(year, 2, 1)
    assert at.time_input(key="cb_w_send_time").value == time(8, 0)
    assert at.selectbox(key="cb_w_timezone").value == "Asia/Makassar"
    at.time_input(key="cb_w_send_time").set_value(time(10, 30)).run()
    next_step(at).button(key="cb_schedule").click().run()
    [stored] = campaigns(uow)
    assert stored.id == planned and stored.status == "scheduled"
    assert stored.scheduled_at == datetime(year, 2, 1, 2, 30, tzinfo=UTC)  # WITA is UTC+8
