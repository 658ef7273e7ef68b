"""Refreshing the warehouse: incremental loads, what gets rebuilt, webhooks, and readers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from datetime import timedelta

import duckdb
from sqlalchemy import delete, update

from core.analytics import refresh as refreshing
from core.analytics.refresh import refresh
from core.analytics.warehouse import TABLE_NAMES, Warehouse, scalar
from core.bootstrap import Siaran
from sql.schema import Campaign, CampaignMessage, ContactPreference
from sql.types import utcnow
from tests.core.analytics import scenario
from tests.core.analytics.scenario import T0, Scenario


def metric(warehouse: Warehouse, campaign_id: object, column: str) -> object:
    with warehouse.reader() as con:
        return scalar(
            con, f"SELECT {column} FROM campaign_metrics WHERE campaign_id = ?", [str(campaign_id)]
        )


def test_the_first_refresh_loads_everything_and_publishes(
    siaran: Siaran, shop: Scenario, warehouse: Warehouse
) -> None:
    assert not warehouse.exists()
    done = refresh(warehouse, siaran.engine, siaran.settings)
    assert done.load.full and done.load.messages == 11 and done.load.campaigns == 3
    assert done.rebuilt["message_facts"] == 3 and done.rebuilt["campaign_metrics"] == 3
    assert warehouse.exists()
    info = warehouse.info()
    assert info is not None and (info.campaigns, info.messages) == (3, 11)
    with warehouse.reader() as con:
        tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
    assert tables == set(TABLE_NAMES)  # staging never leaves the working file


def test_a_refresh_with_nothing_new_rebuilds_nothing(
    siaran: Siaran, shop: Scenario, warehouse: Warehouse
) -> None:
    refresh(warehouse, siaran.engine, siaran.settings)
    again = refresh(warehouse, siaran.engine, siaran.settings)
    assert not again.load.full
    # The overlap re-reads the recent rows, but unchanged rows mark nothing.
    assert again.load.messages == 11 and again.load.marked == 0
    assert set(again.rebuilt.values()) == {0}


def test_a_changed_message_rebuilds_only_its_campaign(
    siaran: Siaran, shop: Scenario, warehouse: Warehouse
) -> None:
    refresh(warehouse, siaran.engine, siaran.settings)
    with siaran.uow.begin() as session:
        message = session.get(CampaignMessage, shop.messages["m6"])
        assert message is not None
        message.status, message.delivered_at = "delivered", T0 + timedelta(minutes=3)
    done = refresh(warehouse, siaran.engine, siaran.settings)
    assert done.load.marked == 1
    assert done.rebuilt["message_facts"] == 1 and done.rebuilt["engagement_hourly"] == 1
    assert metric(warehouse, shop.campaign_id, "delivered") == 7
    assert metric(warehouse, shop.other_id, "delivered") == 1


def test_only_rows_changed_since_the_watermark_minus_the_overlap_are_read(
    siaran: Siaran, shop: Scenario, warehouse: Warehouse
) -> None:
    later = T0 + timedelta(days=1)
    with siaran.uow.begin() as session:
        session.execute(update(CampaignMessage).values(updated_at=T0))
        session.execute(
            update(CampaignMessage)
            .where(CampaignMessage.id == shop.messages["other"])
            .values(updated_at=later)
        )
    refresh(warehouse, siaran.engine, siaran.settings)
    # A transaction that committed late, inside the overlap: still picked up.
    with siaran.uow.begin() as session:
        session.execute(
            update(CampaignMessage)
            .where(CampaignMessage.id == shop.messages["m9"])
            .values(status="sent", sent_at=later, updated_at=later - timedelta(minutes=2))
        )
    done = refresh(warehouse, siaran.engine, siaran.settings)
    assert done.load.messages == 2  # "other" (the watermark itself) and m9
    assert metric(warehouse, shop.campaign_id, "sent") == 9


def test_a_new_opt_out_rebuilds_the_campaigns_of_that_contact(
    siaran: Siaran, shop: Scenario, warehouse: Warehouse
) -> None:
    refresh(warehouse, siaran.engine, siaran.settings)
    with siaran.uow.begin() as session:
        session.add(
            ContactPreference(
                contact_id=shop.contacts["m6"], opted_out=True, opted_out_at=T0 + timedelta(hours=5)
            )
        )
    done = refresh(warehouse, siaran.engine, siaran.settings)
    assert done.load.preferences == 3 and done.load.marked == 1
    assert metric(warehouse, shop.campaign_id, "opted_out") == 3


def test_deleted_campaigns_and_new_timezones_are_followed(
    siaran: Siaran, shop: Scenario, warehouse: Warehouse
) -> None:
    refresh(warehouse, siaran.engine, siaran.settings)
    with siaran.uow.begin() as session:
        session.execute(delete(CampaignMessage).where(CampaignMessage.campaign_id == shop.other_id))
        session.execute(delete(Campaign).where(Campaign.id == shop.other_id))
        session.execute(
            update(Campaign).where(Campaign.id == shop.campaign_id).values(timezone="UTC")
        )
    refresh(warehouse, siaran.engine, siaran.settings)
    with warehouse.reader() as con:
        for table in ("campaigns", "message_facts", "campaign_metrics", "engagement_daily"):
            rows = scalar(
                con, f"SELECT count(*) FROM {table} WHERE campaign_id = ?", [str(shop.other_id)]
            )
            assert rows == 0, table
        first = scalar(
            con,
            "SELECT min(hour) FROM engagement_hourly WHERE campaign_id = ?",
            [str(shop.campaign_id)],
        )
    assert first.hour == 2  # 02:00 UTC now, no longer 09:00 Jakarta


def test_incremental_refreshes_end_where_a_full_rebuild_does(
    siaran: Siaran, shop: Scenario, warehouse: Warehouse, tmp_path: object
) -> None:
    refresh(warehouse, siaran.engine, siaran.settings)
    with siaran.uow.begin() as session:
        session.execute(
            update(CampaignMessage)
            .where(CampaignMessage.id == shop.messages["m2"])
            .values(replied_at=T0 + timedelta(hours=4), reply_text="ok")
        )
    refresh(warehouse, siaran.engine, siaran.settings)
    fresh = Warehouse(warehouse.path.parent.parent / "fresh" / "siaran.duckdb")
    refresh(fresh, siaran.engine, siaran.settings, full=True)
    for table in TABLE_NAMES:
        if table == "warehouse_info":
            continue
        ordering = "ORDER BY ALL"
        with warehouse.reader() as con:
            incremental = con.execute(f"SELECT * FROM {table} {ordering}").fetchall()
        with fresh.reader() as con:
            rebuilt = con.execute(f"SELECT * FROM {table} {ordering}").fetchall()
        assert incremental == rebuilt, table


def test_webhook_events_become_event_facts_matched_to_messages(
    siaran: Siaran, shop: Scenario, warehouse: Warehouse
) -> None:
    now = utcnow()
    m = shop.messages
    scenario.webhook(siaran.uow, scenario.envelope({"statuses": [
        scenario.status("wamid.m6", "delivered", now - timedelta(seconds=3), callback=m["m6"]),
        scenario.status("wamid.m2", "read", now),
        scenario.status("wamid.unknown", "delivered", now),
    ]}), now)  # fmt: skip
    scenario.webhook(siaran.uow, scenario.envelope({
        "contacts": [{"wa_id": "6281100000001", "profile": {"name": "A"}}],
        "messages": [
            {"id": "wamid.in1", "from": "6281100000001", "timestamp": str(int(now.timestamp())),
             "type": "text", "text": {"body": "Mau dong"}},
            {"id": "wamid.in3", "from": "6281100000003", "timestamp": str(int(now.timestamp())),
             "type": "text", "text": {"body": "?"}, "context": {"id": "wamid.m3"}},
        ]}), now)  # fmt: skip
    refresh(warehouse, siaran.engine, siaran.settings)
    with warehouse.reader() as con:
        rows = con.execute(
            "SELECT kind, status, message_id::VARCHAR, matched_by, delay_seconds "
            "FROM event_facts ORDER BY received_at, item"
        ).fetchall()
    found = {(kind, status, matched): message for kind, status, message, matched, _ in rows}
    delays = {matched: delay for _, _, _, matched, delay in rows}
    assert found[("status", "delivered", "callback")] == str(m["m6"])
    assert found[("status", "read", "wamid")] == str(m["m2"])
    assert found[("status", "delivered", None)] is None
    assert found[("message", None, "reply")] == str(m["m1"])
    assert found[("message", None, "context")] == str(m["m3"])
    assert 3 <= delays["callback"] < 4  # stored 3 s after it happened (Meta sends seconds)
    # The unknown wamid's message arrives later: the event is matched on the next refresh.
    with siaran.uow.begin() as session:
        session.add(CampaignMessage(campaign_id=shop.other_id, phone="+6281100000099",
                                    status="delivered", wamid="wamid.unknown"))  # fmt: skip
    refresh(warehouse, siaran.engine, siaran.settings)
    with warehouse.reader() as con:
        assert scalar(con, "SELECT count(*) FROM event_facts") == 5  # no duplicates
        assert scalar(con, "SELECT count(*) FROM event_facts WHERE campaign_id IS NULL") == 0


def test_a_crashed_step_is_finished_before_publishing(
    siaran: Siaran, shop: Scenario, warehouse: Warehouse
) -> None:
    with warehouse.writer() as con:
        refreshing.load_sources(con, siaran.engine, siaran.settings)
        refreshing.build_message_facts(con, siaran.settings)
        assert refreshing.pending_steps(con)["campaign_metrics"] == 3
        refreshing.publish(con, warehouse, siaran.settings)
        assert refreshing.pending_steps(con) == {}
    assert metric(warehouse, shop.campaign_id, "replied") == 3


def test_readers_never_block_a_refresh_nor_see_half_of_one(
    siaran: Siaran, shop: Scenario, warehouse: Warehouse
) -> None:
    refresh(warehouse, siaran.engine, siaran.settings)
    # An analyst's process holds the published file open, read-only, through a refresh.
    analyst = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys
            con = duckdb.connect({str(warehouse.path)!r}, read_only=True)
            count = "SELECT count(*) FROM message_facts"
            print(con.execute(count).fetchall()[0][0], flush=True)
            sys.stdin.readline()
            print(con.execute(count).fetchall()[0][0], flush=True)
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert analyst.stdout is not None and analyst.stdin is not None
    assert analyst.stdout.readline().strip() == "11"

    seen: list[tuple[int, int, int]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read_while_refreshing() -> None:
        try:
            while not done.is_set():
                with warehouse.reader() as con:
                    facts = scalar(con, "SELECT count(*) FROM message_facts")
                    totals = scalar(con, "SELECT sum(total_recipients) FROM campaign_metrics")
                    info = scalar(con, "SELECT messages FROM warehouse_info")
                seen.append((facts, int(totals), info))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    reader = threading.Thread(target=read_while_refreshing)
    reader.start()
    try:
        for n in range(3):
            with siaran.uow.begin() as session:
                session.add_all(
                    CampaignMessage(campaign_id=shop.other_id, phone=f"+62812000{n}{i:04d}",
                                    status="sent", sent_at=T0)
                    for i in range(50)
                )  # fmt: skip
            refresh(warehouse, siaran.engine, siaran.settings)
    finally:
        done.set()
        reader.join(30)
    assert not errors
    assert seen and all(facts == totals == info for facts, totals, info in seen)
    assert {facts for facts, _, _ in seen} <= {11, 61, 111, 161}

    analyst.stdin.write("\n")
    analyst.stdin.flush()
    assert analyst.stdout.readline().strip() == "11"  # its old, whole snapshot
    assert analyst.wait(10) == 0
    with warehouse.reader() as con:
        assert scalar(con, "SELECT count(*) FROM message_facts") == 161
    # A plain read-only connection opened now sees the new file, nothing left behind.
    fresh = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        assert fresh.execute("SELECT count(*) FROM message_facts").fetchall()[0][0] == 161
    finally:
        fresh.close()
    assert sorted(p.name for p in warehouse.path.parent.iterdir()) == ["siaran.duckdb", "work"]


def test_a_working_file_of_an_older_schema_is_rebuilt_from_scratch(
    siaran: Siaran, shop: Scenario, warehouse: Warehouse
) -> None:
    refresh(warehouse, siaran.engine, siaran.settings)
    with warehouse.writer() as con:
        con.execute("UPDATE warehouse_state SET value = '0' WHERE name = 'schema_version'")
        con.execute("CREATE TABLE leftover_from_v0 (x INTEGER)")
    done = refresh(warehouse, siaran.engine, siaran.settings)
    assert done.load.full and done.load.messages == 11
    with warehouse.writer() as con:
        assert (
            scalar(
                con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'leftover_from_v0'"
            )
            == 0
        )
