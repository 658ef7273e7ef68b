"""The Campaigns page: statuses, schedules, live progress equal to the database, actions."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

import pytest
from sqlalchemy import func, select, update
from streamlit.testing.v1 import AppTest

from core.bootstrap import Siaran
from core.campaigns import cancel_campaign, create_campaign, launch_campaign, schedule_campaign
from core.permissions import Actor
from sandbox.server import SandboxServer
from sender import progress
from sql.schema import Campaign, CampaignMessage, Notification, WhatsAppTemplate
from sql.types import utcnow
from tests.app.campaigns.conftest import Shop, open_page
from tests.app.conftest import texts

PAGE = "campaigns.py"


def campaigns_page(signed_in: Callable[[str], AppTest], who: Actor) -> AppTest:
    at = open_page(signed_in, who.email, PAGE)
    assert at.title[0].value == "Campaigns"
    return at


def new_campaign(
    siaran: Siaran, owner: Actor, shop: Shop, name: str, **values: object
) -> uuid.UUID:
    with siaran.uow.begin() as session:
        return create_campaign(
            session, owner,
            {"name": name, "segment_id": shop.segment_id,
             "message_content": {"body": "Halo {name}!"}, **values},
        ).id  # fmt: skip


def running_campaign(siaran: Siaran, owner: Actor, shop: Shop, name: str) -> uuid.UUID:
    campaign_id = new_campaign(siaran, owner, shop, name)
    with siaran.uow.begin() as session:
        launch_campaign(session, owner, campaign_id, settings=siaran.settings)
    return campaign_id


def scheduled(siaran: Siaran, owner: Actor, shop: Shop, name: str, zone: str) -> uuid.UUID:
    campaign_id = new_campaign(siaran, owner, shop, name)
    with siaran.uow.begin() as session:
        schedule_campaign(
            session, owner, campaign_id, local_date=date(datetime.now(UTC).year + 1, 1, 15),
            local_time=clock_time(9, 0), timezone=zone, settings=siaran.settings,
        )  # fmt: skip
    return campaign_id


def sender_progress(siaran: Siaran, campaign_id: uuid.UUID, sent: int, failed: int) -> None:
    """What a sender would have done: some messages sent, one failed, its rate saved."""
    now = utcnow()
    with siaran.uow.begin() as session:
        ids = list(
            session.scalars(
                select(CampaignMessage.id)
                .where(CampaignMessage.campaign_id == campaign_id)
                .order_by(CampaignMessage.phone)
            )
        )
        changes = [{"status": "sent", "sent_at": now}] * sent + [{"status": "failed"}] * failed
        for message_id, values in zip(ids, changes, strict=False):
            session.execute(
                update(CampaignMessage).where(CampaignMessage.id == message_id).values(**values)
            )
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(sent_count=sent, failed_count=failed)
        )
        measured = progress.measure(
            session, campaign_id, meter=progress.RateMeter(), clock=0.0, fallback_rate=0.0,
            now=now,
        )  # fmt: skip
        assert measured is not None
        saved = progress.Progress(**{**measured.__dict__, "rate_per_second": 12.5,
                                     "eta_seconds": measured.queued / 12.5})  # fmt: skip
        progress.save(session, saved, "test-worker")


def test_owner_sees_statuses_schedules_and_progress_equal_to_the_database(
    signed_in: Callable[[str], AppTest], owner: Actor, shop: Shop, siaran: Siaran
) -> None:
    new_campaign(siaran, owner, shop, "Draf promo")
    scheduled(siaran, owner, shop, "Promo Januari", "Asia/Jakarta")
    scheduled(siaran, owner, shop, "Promo Makassar", "Asia/Makassar")
    running = running_campaign(siaran, owner, shop, "Promo berjalan")
    sender_progress(siaran, running, sent=1, failed=1)

    at = campaigns_page(signed_in, owner)
    shown = texts(at)
    badges = {
        "Draf promo": "gray-badge[Draft]",
        "Promo Januari": "blue-badge[Scheduled]",
        "Promo berjalan": "green-badge[Running]",
    }
    for name, badge in badges.items():
        assert f"**{name}** &nbsp; :{badge}" in shown
    # Scheduled campaigns in their own clock and zone, soonest first.
    year = datetime.now(UTC).year + 1
    table = at.dataframe[0].value
    assert list(table["Campaign"]) == ["Promo Makassar", "Promo Januari"]  # 09:00 WITA is earlier
    assert list(table["Starts (local time)"]) == [
        f"{date(year, 1, 15):%a} {year}-01-15 09:00 Asia/Makassar",
        f"{date(year, 1, 15):%a} {year}-01-15 09:00 Asia/Jakarta",
    ]
    # The running campaign's bar: the outbox's counts and the sender's rate.
    with siaran.uow.session() as session:
        total = session.scalar(select(func.count()).where(CampaignMessage.campaign_id == running))
        sent = session.scalar(
            select(func.count()).where(
                CampaignMessage.campaign_id == running, CampaignMessage.sent_at.is_not(None)
            )
        )
        failed = session.scalar(
            select(func.count()).where(
                CampaignMessage.campaign_id == running, CampaignMessage.status == "failed"
            )
        )
    assert (total, sent, failed) == (3, 1, 1)
    [bar] = at.progress
    assert bar.text == f"{sent} / {total} sent · {failed} failed · 12.5 msg/s · about 0s left"
    assert bar.value == int(100 * (sent + failed) / total)  # Streamlit truncates
    assert "1 still to send" in shown
    # Who the launch left out, and why.
    assert "Left out at launch: 1 opted out." in shown
    at.toggle(key=f"excluded_{running}").set_value(True).run()
    [left_out] = [d.value for d in at.dataframe if "Why" in d.value.columns]
    assert left_out.to_dict("records") == [
        {"Phone": "+6281100000003", "Why": "opted out", "Detail": ""}
    ]
    # Launching notified the owner: shown on top until read.
    assert "**Campaign 'Promo berjalan' started**" in at.info[0].value
    at.button(key="notifications_read").click().run()
    assert not any("started**" in i.value for i in at.info)
    with siaran.uow.session() as session:
        unread = session.scalar(
            select(func.count()).where(
                Notification.read_at.is_(None), Notification.profile_id == owner.id
            )
        )
    assert unread == 0


def test_a_running_campaign_without_a_sender_says_so(
    signed_in: Callable[[str], AppTest], owner: Actor, shop: Shop, siaran: Siaran
) -> None:
    running_campaign(siaran, owner, shop, "Tanpa pengirim")
    at = campaigns_page(signed_in, owner)
    assert at.progress[0].text == "0 / 3 sent · 0.0 msg/s"
    assert any("No sender has reported progress yet" in w.value for w in at.warning)


def test_a_campaign_waiting_for_retries_says_when_instead_of_warning(
    signed_in: Callable[[str], AppTest], owner: Actor, shop: Shop, siaran: Siaran
) -> None:
    campaign_id = running_campaign(siaran, owner, shop, "Menunggu")
    later = utcnow() + timedelta(hours=4)
    with siaran.uow.begin() as session:  # WhatsApp's 131049: every message retries hours later
        session.execute(
            update(CampaignMessage)
            .where(CampaignMessage.campaign_id == campaign_id)
            .values(next_attempt_at=later, attempts=1, error_code=131049)
        )
    at = campaigns_page(signed_in, owner)
    assert not any("No sender has reported" in w.value for w in at.warning)
    [waiting] = [i.value for i in at.info if "wait for a retry" in i.value]
    assert waiting.startswith("3 messages wait for a retry WhatsApp asked for")
    assert f"next at {later:%Y-%m-%d %H:%M} UTC" in waiting


def test_filters_narrow_the_list(
    signed_in: Callable[[str], AppTest], owner: Actor, shop: Shop, siaran: Siaran
) -> None:
    new_campaign(siaran, owner, shop, "Draf satu")
    scheduled(siaran, owner, shop, "Terjadwal dua", "Asia/Jakarta")
    at = campaigns_page(signed_in, owner)
    at.selectbox(key="campaigns_status").select("scheduled").run()
    assert "**Terjadwal dua**" in texts(at) and "**Draf satu**" not in texts(at)
    at.selectbox(key="campaigns_status").select("All").run()
    at.text_input(key="campaigns_search").input("draf").run()
    assert "**Draf satu**" in texts(at) and "**Terjadwal dua**" not in texts(at)
    at.text_input(key="campaigns_search").input("nothing like it").run()
    assert "No campaigns match these filters." in texts(at)


def test_pause_resume_and_a_refused_transition(
    signed_in: Callable[[str], AppTest],
    owner: Actor,
    sandbox_shop: Shop,
    sandbox: SandboxServer,
    siaran: Siaran,
) -> None:
    with siaran.uow.session() as session:
        hello = session.scalar(
            select(WhatsAppTemplate.id).where(WhatsAppTemplate.name == "hello_world")
        )
    campaign_id = new_campaign(
        siaran, owner, sandbox_shop, "Halo semua", message_type="template",
        message_content={}, whatsapp_template_id=hello,
    )  # fmt: skip
    with siaran.uow.begin() as session:
        launch_campaign(session, owner, campaign_id, settings=siaran.settings)

    def status() -> str:
        with siaran.uow.session() as session:
            return session.get(Campaign, campaign_id).status  # type: ignore[union-attr]

    at = campaigns_page(signed_in, owner)
    at.button(key=f"pause_{campaign_id}").click().run()
    assert status() == "paused"
    assert "Campaign 'Halo semua' is paused" in at.success[0].value
    assert ":orange-badge[Paused]" in texts(at)

    # Someone else cancels it while this page still offers Resume: the core refuses.
    with siaran.uow.begin() as session:
        cancel_campaign(session, owner, campaign_id, settings=siaran.settings)
    at.button(key=f"resume_{campaign_id}").click().run()
    assert not at.exception
    assert at.error[0].value == (
        "Campaign 'Halo semua' is cancelled; only paused campaigns can be resumed."
    )
    assert status() == "cancelled"
    assert ":gray-badge[Cancelled]" in texts(at)
    assert f"resume_{campaign_id}" not in {b.key for b in at.button}


def test_resume_starts_a_sender_again(
    signed_in: Callable[[str], AppTest],
    owner: Actor,
    sandbox_shop: Shop,
    sandbox: SandboxServer,
    siaran: Siaran,
) -> None:
    with siaran.uow.session() as session:
        hello = session.scalar(
            select(WhatsAppTemplate.id).where(WhatsAppTemplate.name == "hello_world")
        )
    campaign_id = new_campaign(
        siaran, owner, sandbox_shop, "Halo lagi", message_type="template",
        message_content={}, whatsapp_template_id=hello,
    )  # fmt: skip
    with siaran.uow.begin() as session:
        launch_campaign(session, owner, campaign_id, settings=siaran.settings)
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="paused"))
    at = campaigns_page(signed_in, owner)
    at.button(key=f"resume_{campaign_id}").click().run()
    assert "Campaign 'Halo lagi' is sending again." in at.success[0].value
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(sandbox.state.messages) < 3:
        time.sleep(0.2)
    assert {m.wa_id for m in sandbox.state.messages} == {
        "6281100000001", "6281100000002", "6281100000004"
    }  # fmt: skip


def test_cancel_and_delete_ask_first_and_duplicate_copies(
    signed_in: Callable[[str], AppTest], owner: Actor, shop: Shop, siaran: Siaran
) -> None:
    draft = new_campaign(siaran, owner, shop, "Draf dihapus")
    plan = scheduled(siaran, owner, shop, "Jadwal dibatalkan", "Asia/Jakarta")
    at = campaigns_page(signed_in, owner)

    at.button(key=f"cancel_{plan}").click().run()
    assert "Cancel campaign 'Jadwal dibatalkan'?" in at.warning[0].value
    at.button(key=f"keep_{plan}").click().run()  # changed their mind
    assert not any("Cancel campaign" in w.value for w in at.warning)
    at.button(key=f"cancel_{plan}").click().run()
    at.button(key=f"confirm_{plan}").click().run()
    assert "Campaign 'Jadwal dibatalkan' is cancelled." in at.success[0].value

    at.button(key=f"duplicate_{draft}").click().run()
    assert "copied to the draft 'Draf dihapus (copy)'" in at.success[0].value
    at.button(key=f"delete_{draft}").click().run()
    at.button(key=f"confirm_{draft}").click().run()
    with siaran.uow.session() as session:
        rows = dict(session.execute(select(Campaign.name, Campaign.status)).all())
    assert rows == {"Jadwal dibatalkan": "cancelled", "Draf dihapus (copy)": "draft"}


def test_supervisors_see_everything_read_only(
    signed_in: Callable[[str], AppTest],
    owner: Actor,
    supervisor: Actor,
    shop: Shop,
    siaran: Siaran,
) -> None:
    draft = new_campaign(siaran, owner, shop, "Draf")
    running = running_campaign(siaran, owner, shop, "Berjalan")
    at = campaigns_page(signed_in, supervisor)
    assert "Read only: your role can view campaigns" in texts(at)
    assert "**Draf**" in texts(at) and "**Berjalan**" in texts(at)
    assert at.progress[0].text.startswith("0 / 3 sent")
    keys = {b.key for b in at.button}
    assert not any(str(draft) in k or str(running) in k for k in keys if k)
    assert "campaigns_new" not in keys
    links = [link.proto.label for link in at.get("page_link")]
    assert links == ["Results"]  # the running campaign's analytics; no Edit


@pytest.mark.parametrize("page", [PAGE, "campaign_builder.py"])
def test_agents_see_no_campaign_page(
    signed_in: Callable[[str], AppTest], agent: Actor, page: str
) -> None:
    at = signed_in(agent.email)
    assert at.title[0].value == "No access"
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"views/{page}")
