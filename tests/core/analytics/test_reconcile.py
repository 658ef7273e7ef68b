"""The warehouse checks: they pass on a true warehouse and name every difference otherwise."""

from __future__ import annotations

from sqlalchemy import update

from core.analytics import reconcile, refresh
from core.analytics.warehouse import Warehouse
from core.bootstrap import Siaran
from sql.schema import CampaignMessage
from tests.core.analytics.scenario import T0, Scenario


def test_a_fresh_warehouse_reconciles(siaran: Siaran, shop: Scenario, warehouse: Warehouse) -> None:
    assert reconcile.against_operational_db(warehouse, siaran.engine).problem
    refresh.refresh(warehouse, siaran.engine, siaran.settings)
    # Everything was written just now, so it is inside the settle time: nothing compared.
    settled = reconcile.against_operational_db(warehouse, siaran.engine)
    assert settled.passed
    with siaran.uow.begin() as session:
        session.execute(update(CampaignMessage).values(updated_at=T0))
    refresh.refresh(warehouse, siaran.engine, siaran.settings, full=True)
    found = reconcile.against_operational_db(warehouse, siaran.engine)
    assert found.passed and found.campaigns == 2 and found.cutoff is not None
    assert reconcile.rollups_add_up(warehouse).passed


def test_a_change_the_load_missed_is_reported(
    siaran: Siaran, shop: Scenario, warehouse: Warehouse
) -> None:
    with siaran.uow.begin() as session:
        session.execute(update(CampaignMessage).values(updated_at=T0))
    refresh.refresh(warehouse, siaran.engine, siaran.settings)
    # A writer that changes a message without moving updated_at forward.
    with siaran.uow.begin() as session:
        session.execute(
            update(CampaignMessage)
            .where(CampaignMessage.id == shop.messages["m6"])
            .values(status="failed", failed_at=T0, updated_at=T0)
        )
    found = reconcile.against_operational_db(warehouse, siaran.engine)
    assert not found.passed
    assert found.mismatches == [
        {"campaign_id": str(shop.campaign_id), "table": "message_facts", "column": "failed",
         "operational": 3, "warehouse": 2},
    ]  # fmt: skip


def test_rollups_that_do_not_add_up_are_reported(
    siaran: Siaran, shop: Scenario, warehouse: Warehouse
) -> None:
    refresh.refresh(warehouse, siaran.engine, siaran.settings)
    with warehouse.writer() as con:
        con.execute("UPDATE engagement_daily SET read = read + 1 WHERE day = DATE '2024-03-05'")
        refresh.publish(con, warehouse, siaran.settings)
    found = reconcile.rollups_add_up(warehouse)
    assert not found.passed
    assert [(m["table"], m["column"], m["facts"], m["warehouse"]) for m in found.mismatches] == [
        ("engagement_daily", "read", 3, 4)
    ]
