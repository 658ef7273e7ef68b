"""Exports of a 100,000-message campaign: streamed, complete, readable by Polars."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import insert

from core.analytics import export, report
from core.analytics.warehouse import Warehouse
from core.bootstrap import Siaran
from core.permissions import Actor
from sql.schema import Campaign, CampaignMessage
from sql.types import utcnow
from tests.core.analytics.scenario import T0

SIZE = 100_000


@pytest.fixture
def big_campaign(siaran: Siaran) -> uuid.UUID:
    """100,000 messages: every 4th read, every 10th replied, every 50th failed."""
    now = utcnow()
    campaign_id = uuid.uuid4()
    rows = []
    for i in range(SIZE):
        failed = i % 50 == 0
        rows.append({
            "id": uuid.uuid4(), "campaign_id": campaign_id, "phone": f"+628{i:010d}",
            "status": "failed" if failed else ("read" if i % 4 == 0 else "delivered"),
            "rendered_content": {}, "attempts": 1,
            "sent_at": None if failed else T0,
            "delivered_at": None if failed else T0 + timedelta(seconds=5),
            "read_at": T0 + timedelta(minutes=1) if i % 4 == 0 and not failed else None,
            "replied_at": T0 + timedelta(minutes=i % 60) if i % 10 == 5 else None,
            "reply_text": f"balasan {i}" if i % 10 == 5 else None,
            "failed_at": T0 if failed else None, "error_code": 131026 if failed else None,
            "error_category": "recipient" if failed else None,
            "created_at": now, "updated_at": now,
        })  # fmt: skip
    with siaran.uow.begin() as session:
        session.add(Campaign(id=campaign_id, name="Big", status="completed", timezone="UTC"))
        session.flush()
        # A Core executemany: the ORM's bulk insert takes several times as long for rows
        # that need none of what it adds.
        session.connection().execute(insert(CampaignMessage.__table__), rows)
    return campaign_id


@pytest.mark.slow
def test_a_100k_message_campaign_exports_completely_in_every_format(
    siaran: Siaran, supervisor: Actor, big_campaign: uuid.UUID, tmp_path: Path
) -> None:
    warehouse = Warehouse.for_settings(siaran.settings)
    sources = {"warehouse": warehouse, "settings": siaran.settings}
    frames = {}
    with siaran.uow.session() as session:
        for fmt in export.FORMATS:
            written = export.export_campaign(
                session, supervisor, big_campaign, kind="tracking", fmt=fmt,
                directory=tmp_path, **sources,
            )  # fmt: skip
            assert written.rows == SIZE
            frames[fmt] = written.path
        summary = report.campaign_report(session, supervisor, big_campaign, **sources)
    parquet = pl.read_parquet(frames["parquet"])
    # Every CSV value parses as the type Parquet has, and the two hold the same rows. (Polars'
    # own date inference over all 100,000 rows takes seconds; the schema is as strict.)
    csv = pl.read_csv(frames["csv"], schema=parquet.schema)
    assert csv.sort("message_id").equals(parquet.sort("message_id"))
    xlsx = pl.read_excel(frames["xlsx"], sheet_name="Tracking")
    for table in (csv, xlsx, parquet):
        assert table.height == SIZE
        assert table["message_id"].n_unique() == SIZE
        assert table.filter(pl.col("status") == "failed").height == SIZE // 50
        assert table["reply_text"].drop_nulls().len() == SIZE // 10
        assert table["phone"].str.contains("•").all()
    assert parquet["read_at"].drop_nulls().len() == summary.metrics.read
    assert summary.metrics.total_recipients == SIZE and summary.metrics.replied == SIZE // 10
