"""Exports: the report and the tracking data as CSV, XLSX and Parquet, read back with Polars."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from core.analytics import export
from core.analytics.warehouse import Warehouse
from core.bootstrap import Siaran
from core.errors import InvalidInput, PermissionDenied
from core.permissions import Actor
from tests.core.analytics.scenario import EXPECTED_METRICS, T0, Scenario

FORMATS = ["csv", "xlsx", "parquet"]


def read(path: Path, fmt: str, sheet: str | None = None) -> pl.DataFrame:
    if fmt == "csv":
        return pl.read_csv(path, try_parse_dates=True)
    if fmt == "xlsx":
        return pl.read_excel(path, sheet_name=sheet or "Tracking")
    return pl.read_parquet(path)


def run(siaran: Siaran, actor: Actor, campaign_id: object, kind: str, fmt: str,
        warehouse: Warehouse, tmp_path: Path) -> export.ExportFile:  # fmt: skip
    with siaran.uow.session() as session:
        return export.export_campaign(
            session, actor, campaign_id, kind=kind, fmt=fmt, directory=tmp_path,  # type: ignore[arg-type]
            warehouse=warehouse, settings=siaran.settings,
        )  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_tracking_export_has_one_row_per_message(
    fmt: str, siaran: Siaran, supervisor: Actor, shop: Scenario, warehouse: Warehouse,
    tmp_path: Path,
) -> None:  # fmt: skip
    written = run(siaran, supervisor, shop.campaign_id, "tracking", fmt, warehouse, tmp_path)
    assert written.rows == 10 and written.filename == f"promo-ramadan-tracking.{fmt}"
    table = read(written.path, fmt)
    assert table.height == 10
    assert set(table.columns) == set(export.TRACKING_SCHEMA.names)
    assert all("•" in phone for phone in table["phone"])  # a supervisor's export is masked
    row = table.filter(pl.col("message_id") == str(shop.messages["m10"])).to_dicts()[0]
    assert row["reply_text"] == "STOP" and row["seconds_to_reply"] == 93600
    sent = row["sent_at"]
    if sent.tzinfo is None:  # Excel has no zones: the export writes UTC
        sent = sent.replace(tzinfo=T0.tzinfo)
    assert sent == T0
    failed = table.filter(pl.col("status") == "failed").sort("error_code")
    assert failed["error_code"].to_list() == [131000, 131026]
    assert failed["retryable"].to_list() == [True, False]


@pytest.mark.parametrize("fmt", FORMATS)
def test_report_export_holds_every_metric(
    fmt: str, siaran: Siaran, owner: Actor, shop: Scenario, warehouse: Warehouse, tmp_path: Path
) -> None:
    written = run(siaran, owner, shop.campaign_id, "report", fmt, warehouse, tmp_path)
    table = read(written.path, fmt, sheet="Summary")
    values = dict(zip(table["metric"], table["value"], strict=True))
    for name, value in EXPECTED_METRICS.items():
        assert values[name] == pytest.approx(value), name
    assert values["status_read"] == 3
    labels = dict(zip(table["metric"], table["display"], strict=True))
    assert labels["open_rate"] == "50.0%" and labels["median_reply_seconds"] == "2 h"
    if fmt == "xlsx":
        latency = pl.read_excel(written.path, sheet_name="Reply latency")
        assert latency["replies"].sum() == 3
        daily = pl.read_excel(written.path, sheet_name="Daily (Asia-Jakarta)")
        assert daily["read"].to_list() == [2, 1]


def test_exports_are_refused_to_agents_and_for_unknown_kinds(
    siaran: Siaran, owner: Actor, agent: Actor, shop: Scenario, warehouse: Warehouse,
    tmp_path: Path,
) -> None:  # fmt: skip
    with pytest.raises(PermissionDenied):
        run(siaran, agent, shop.campaign_id, "tracking", "csv", warehouse, tmp_path)
    with pytest.raises(InvalidInput, match="format"):
        run(siaran, owner, shop.campaign_id, "tracking", "json", warehouse, tmp_path)
    with pytest.raises(InvalidInput, match="kind"):
        run(siaran, owner, shop.campaign_id, "everything", "csv", warehouse, tmp_path)
    assert not list(tmp_path.glob("*.csv"))  # nothing half-written is left
