"""The Campaign analytics page: the API's numbers, charts' tables, replies, retry, roles."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from streamlit.testing.v1 import AppTest

from core.analytics import refresh, report
from core.analytics.metrics import METRIC_BY_NAME, format_value
from core.analytics.warehouse import Warehouse
from core.bootstrap import bootstrap
from core.db import UnitOfWork
from core.permissions import Actor
from core.settings import get_settings
from sql.schema import CampaignMessage
from tests.app.conftest import texts
from tests.core.analytics import scenario

PAGE = "views/campaign_analytics.py"


def open_page(at: AppTest, campaign: object | None = None) -> AppTest:
    if campaign is not None:
        at.query_params["campaign"] = str(campaign)
    return at.switch_page(PAGE).run()


def table(at: AppTest, column: str) -> object:
    """The first table on the page with ``column`` (dataframes carry no key in AppTest)."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def chart_specs(at: AppTest) -> list[dict[str, Any]]:
    """The Vega-Lite specs of the page's Altair charts, in page order."""
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def metrics_shown(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_page_shows_the_numbers_the_api_gives(
    signed_in: Callable[[str], AppTest], supervisor: Actor, uow: UnitOfWork
) -> None:
    shop = scenario.build(uow)
    at = open_page(signed_in(supervisor.email), shop.campaign_id)
    assert not at.exception and not at.error, at.exception
    app = bootstrap(get_settings())
    try:
        with app.uow.session() as session:
            core = report.campaign_report(
                session, supervisor, shop.campaign_id,
                warehouse=Warehouse.for_settings(app.settings), settings=app.settings,
            )  # fmt: skip
    finally:
        app.engine.dispose()
    shown = metrics_shown(at)
    for name, value in core.metrics.as_dict().items():
        metric = METRIC_BY_NAME[name]
        assert shown[metric.label] == format_value(metric, value), name
    assert shown["Open rate"] == "50.0%" and shown["Median time to reply"] == "2 h"
    assert shown["Recipients"] == "10" and shown["Opt-out rate"] == "33.3%"
    statuses = table(at, "Status")
    assert dict(zip(statuses["Status"], statuses["Messages"], strict=True)) == (
        scenario.EXPECTED_STATUSES
    )
    replies = table(at, "Reply")
    assert list(replies["Reply"]) == ["STOP", "Berapa harganya?", "Mau dong"]
    assert all("•" in phone for phone in replies["Phone"])  # supervisors see masked numbers
    page_text = texts(at)
    assert "Computed live" in page_text and "Only owners can retry" in page_text
    assert at.query_params["campaign"] in (str(shop.campaign_id), [str(shop.campaign_id)])
    assert len(at.get("download_button")) == 6


def test_the_page_reads_the_warehouse_once_published(
    signed_in: Callable[[str], AppTest], owner: Actor, uow: UnitOfWork
) -> None:
    shop = scenario.build(uow)
    app = bootstrap(get_settings())
    try:
        refresh.refresh(Warehouse.for_settings(app.settings), app.engine, app.settings)
    finally:
        app.engine.dispose()
    at = open_page(signed_in(owner.email), shop.campaign_id)
    assert not at.exception and not at.error
    assert "From the analytics warehouse" in texts(at)
    assert metrics_shown(at)["Replied"] == "3"
    at.radio(key="analytics_granularity").set_value("daily").run()
    assert not at.exception


def test_owners_retry_failed_messages_from_the_page(
    signed_in: Callable[[str], AppTest], owner: Actor, uow: UnitOfWork
) -> None:
    shop = scenario.build(uow)
    at = open_page(signed_in(owner.email), shop.campaign_id)
    failures = table(at, "Retry possible")
    assert sorted(failures["Retry possible"]) == ["no", "yes"]
    at.button(key="analytics_retry_all").click().run()
    assert not at.exception
    assert "1 failed messages are queued again" in texts(at)
    with uow.session() as session:
        message = session.get(CampaignMessage, shop.messages["m8"])
        assert message is not None and message.status == "pending"
        never = session.get(CampaignMessage, shop.messages["m7"])
        assert never is not None and never.status == "failed"


def test_without_a_launched_campaign_the_page_says_so(
    signed_in: Callable[[str], AppTest], owner: Actor
) -> None:
    at = open_page(signed_in(owner.email))
    assert not at.exception
    assert "No campaign has been launched yet." in texts(at)


def test_the_address_chooses_the_campaign_and_the_picker_changes_it(
    signed_in: Callable[[str], AppTest], owner: Actor, uow: UnitOfWork
) -> None:
    shop = scenario.build(uow)
    at = open_page(signed_in(owner.email), shop.other_id)
    assert metrics_shown(at)["Recipients"] == "1"
    picker = at.selectbox[0]
    assert picker.options == ["Promo Ramadan · running", "Other · completed"]  # latest first
    at = picker.select_index(0).run()
    assert not at.exception
    assert metrics_shown(at)["Recipients"] == "10"
    assert at.query_params["campaign"] in (str(shop.campaign_id), [str(shop.campaign_id)])
    at = at.run()  # a rerun keeps the choice
    assert metrics_shown(at)["Recipients"] == "10"


def test_a_timeline_of_one_hour_shows_its_points(
    signed_in: Callable[[str], AppTest], owner: Actor, uow: UnitOfWork
) -> None:
    shop = scenario.build(uow)
    at = open_page(signed_in(owner.email), shop.other_id)  # everything in one hour
    [timeline] = [s for s in chart_specs(at) if s["encoding"]["x"]["field"] == "period"]
    assert timeline["mark"] == {"type": "line", "point": True}  # a lone line draws nothing


def test_figures_update_live_while_sending_and_not_long_after(
    signed_in: Callable[[str], AppTest], owner: Actor, uow: UnitOfWork
) -> None:
    shop = scenario.build(uow)
    at = open_page(signed_in(owner.email), shop.campaign_id)
    assert at.toggle(key="analytics_live").value is True
    assert "updating every 5 s" in texts(at)  # running: receipts and replies keep coming
    at = at.toggle(key="analytics_live").set_value(False).run()
    assert "updating every" not in texts(at)  # the owner may stop it
    at = at.toggle(key="analytics_live").set_value(True).run()
    # "Other" ended long ago (the scenario's clock is in the past): nothing more to wait for.
    other = next(c for c in at.selectbox[0].options if c.startswith("Other"))
    at = at.selectbox[0].select(other).run()
    assert not at.exception, at.exception
    assert "updating every" not in texts(at)
