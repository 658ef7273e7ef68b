"""The analytics warehouse as Dagster assets: facts, engagement rollups, the published file.

    message_facts ──► event_facts ───────────────────────┐
          │                                              ▼
          ├──► campaign_metrics ──┐                analytics_warehouse  (siaran.duckdb)
          ├──► engagement_hourly ─┤                  checks: matches_operational_database,
          ├──► engagement_daily ──┼─────────────────►        rollups_add_up
          └──► reply_latency ─────┘

Each asset is one step of ``core.analytics.refresh`` on the writer's working file, under
the writer lock; only ``analytics_warehouse`` changes what readers see, by replacing the
published file atomically. Every step rebuilds only the campaigns that changed.
"""

# No ``from __future__ import annotations``: Dagster reads config and resource annotations
# at definition time and cannot resolve them from strings.

from collections.abc import Callable
from typing import Any

import dagster as dg
import duckdb
from pydantic import Field

from core.analytics import reconcile, refresh
from core.analytics.load import load_sources
from core.analytics.warehouse import scalar
from core.bootstrap import Siaran
from pipelines.resources import SiaranResource, WarehouseResource

GROUP = "warehouse"
KINDS = {"duckdb", "polars"}


class RefreshConfig(dg.Config):
    full: bool = Field(
        default=False,
        description="Reload everything from the operational database instead of what changed.",
    )


def _step(
    siaran: SiaranResource,
    warehouse: WarehouseResource,
    work: Callable[[duckdb.DuckDBPyConnection, Siaran], dict[str, Any]],
) -> dg.MaterializeResult:
    """Run ``work`` on the working file under the writer lock; its dict becomes metadata."""
    app = siaran.build()
    try:
        with warehouse.get().writer() as con:
            return dg.MaterializeResult(metadata=work(con, app))
    finally:
        app.engine.dispose()


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(scalar(con, f"SELECT count(*) FROM {table}"))


@dg.asset(group_name=GROUP, kinds=KINDS)
def message_facts(
    config: RefreshConfig, siaran: SiaranResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """One row per campaign message: status, when it was sent, delivered, read, replied to
    or failed, the opt-out attributed to it and its time to reply (no phone numbers or
    texts). Loads what changed in the operational database since the last refresh."""

    def work(con: duckdb.DuckDBPyConnection, app: Siaran) -> dict[str, Any]:
        loaded = load_sources(con, app.engine, app.settings, full=config.full)
        rebuilt = refresh.build_message_facts(con, app.settings)
        return {
            "full_load": loaded.full,
            "messages_loaded": loaded.messages,
            "webhook_updates_loaded": loaded.events,
            "preferences_loaded": loaded.preferences,
            "campaigns_rebuilt": rebuilt,
            "dagster/row_count": _rows(con, "message_facts"),
        }

    return _step(siaran, warehouse, work)


@dg.asset(group_name=GROUP, kinds=KINDS, deps=[message_facts])
def event_facts(siaran: SiaranResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per delivery status, inbound message or opt-out preference in a stored
    webhook, with the campaign message it belongs to and how late it arrived."""

    def work(con: duckdb.DuckDBPyConnection, app: Siaran) -> dict[str, Any]:
        matched = refresh.build_event_facts(con)
        unmatched = scalar(
            con, "SELECT count(*) FROM event_facts WHERE kind = 'status' AND campaign_id IS NULL"
        )
        return {
            "events_matched": matched,
            "unmatched_statuses": int(unmatched),
            "dagster/row_count": _rows(con, "event_facts"),
        }

    return _step(siaran, warehouse, work)


ROLLUP_DESCRIPTIONS = {
    "campaign_metrics": "One row per campaign with every metric of docs/metrics.md (sent, "
    "delivered, open, reply, response and opt-out rates, times to reply) and the number of "
    "messages in each status.",
    "engagement_hourly": "Messages sent, delivered, read, replied to, failed and opted out "
    "per campaign and hour of the campaign's local time.",
    "engagement_daily": "The same events per campaign and local calendar date.",
    "reply_latency": "Replies per campaign and time-to-reply bucket (under 5 minutes ... 3 "
    "days or more), every bucket present.",
}


def _rollup_asset(name: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        group_name=GROUP,
        kinds=KINDS,
        deps=[message_facts],
        description=ROLLUP_DESCRIPTIONS[name],
    )
    def rollup(siaran: SiaranResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
        def work(con: duckdb.DuckDBPyConnection, app: Siaran) -> dict[str, Any]:
            rebuilt = refresh.build_rollup(con, name)
            return {"campaigns_rebuilt": rebuilt, "dagster/row_count": _rows(con, name)}

        return _step(siaran, warehouse, work)

    return rollup


ROLLUP_ASSETS = [_rollup_asset(name) for name in refresh.ROLLUP_STEPS]


@dg.asset(group_name=GROUP, kinds={"duckdb"}, deps=[event_facts, *ROLLUP_ASSETS])
def analytics_warehouse(
    siaran: SiaranResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The published warehouse, data/warehouse/siaran.duckdb: every table above, replaced
    whole and atomically, so analysts and the app never read a half-written state."""

    def work(con: duckdb.DuckDBPyConnection, app: Siaran) -> dict[str, Any]:
        published_at = refresh.publish(con, warehouse.get(), app.settings)
        return {
            "path": dg.MetadataValue.path(str(warehouse.get().path)),
            "published_at": published_at.isoformat(),
            "campaigns": _rows(con, "campaigns"),
            "messages": _rows(con, "message_facts"),
            "webhook_updates": _rows(con, "event_facts"),
        }

    return _step(siaran, warehouse, work)


def _result(found: reconcile.Reconciliation) -> dg.AssetCheckResult:
    metadata: dict[str, Any] = {"campaigns": found.campaigns, "mismatches": len(found.mismatches)}
    if found.cutoff is not None:
        metadata["compared_messages_unchanged_since"] = found.cutoff.isoformat()
    if found.mismatches:
        metadata["first_mismatches"] = dg.MetadataValue.json(found.mismatches[:20])
    if found.problem:
        metadata["problem"] = found.problem
    return dg.AssetCheckResult(passed=found.passed, metadata=metadata)


@dg.asset_check(
    asset=analytics_warehouse,
    description="Per campaign, the published messages, sent, delivered, read, failed and "
    "replied counts equal the operational database's.",
)
def matches_operational_database(
    siaran: SiaranResource, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    app = siaran.build()
    try:
        return _result(reconcile.against_operational_db(warehouse.get(), app.engine))
    finally:
        app.engine.dispose()


@dg.asset_check(
    asset=analytics_warehouse,
    description="campaign_metrics, engagement_hourly, engagement_daily and reply_latency add "
    "up to message_facts.",
)
def rollups_add_up(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(reconcile.rollups_add_up(warehouse.get()))


WAREHOUSE_ASSETS = [message_facts, event_facts, *ROLLUP_ASSETS, analytics_warehouse]
WAREHOUSE_CHECKS = [matches_operational_database, rollups_add_up]
