"""``siaran warehouse``: refresh, inspect and check the analytics warehouse by hand.

Dagster keeps the warehouse fresh (the ``warehouse_refresh`` job and its sensor); these
commands run the same steps from a shell, e.g. after restoring a backup (``--full``).
"""

from __future__ import annotations

import click

from core.bootstrap import bootstrap


@click.group("warehouse")
def warehouse() -> None:
    """The analytics warehouse (data/warehouse/siaran.duckdb)."""


@warehouse.command("refresh")
@click.option("--full", is_flag=True, help="Reload everything instead of what changed.")
def refresh_command(full: bool) -> None:
    """Load what changed, rebuild what it touched and publish the warehouse."""
    from core.analytics.refresh import refresh
    from core.analytics.warehouse import Warehouse

    app = bootstrap()
    try:
        target = Warehouse.for_settings(app.settings)
        done = refresh(target, app.engine, app.settings, full=full)
    finally:
        app.engine.dispose()
    load = done.load
    click.echo(
        f"{'Full load' if load.full else 'Loaded'}: {load.messages:,} messages, "
        f"{load.events:,} webhook updates, {load.preferences:,} preferences; "
        f"{load.marked:,} campaigns rebuilt."
    )
    click.echo(f"Published {target.path}")


@warehouse.command("status")
def status_command() -> None:
    """When the published warehouse was refreshed and what it holds."""
    from core.analytics.warehouse import Warehouse

    target = Warehouse.for_settings(bootstrap().settings)
    info = target.info()
    if info is None:
        raise click.ClickException(
            f"No warehouse at {target.path} yet; run `siaran warehouse refresh`."
        )
    click.echo(f"{target.path}")
    click.echo(f"refreshed at       {info.refreshed_at.isoformat()}")
    click.echo(
        f"messages through   {info.messages_through.isoformat() if info.messages_through else '-'}"
    )
    click.echo(
        f"webhooks through   {info.events_through.isoformat() if info.events_through else '-'}"
    )
    click.echo(f"campaigns          {info.campaigns:,}")
    click.echo(f"messages           {info.messages:,}")
    click.echo(f"webhook updates    {info.events:,}")
    click.echo(f"attribution window {info.attribution_hours:g} h")


@warehouse.command("check")
def check_command() -> None:
    """Reconcile the warehouse with the operational database; exit 1 on any difference."""
    from core.analytics import reconcile
    from core.analytics.warehouse import Warehouse

    app = bootstrap()
    try:
        target = Warehouse.for_settings(app.settings)
        results = {
            "matches the operational database": reconcile.against_operational_db(
                target, app.engine
            ),
            "rollups add up": reconcile.rollups_add_up(target),
        }
    finally:
        app.engine.dispose()
    failed = False
    for name, found in results.items():
        mark = "ok" if found.passed else "FAILED"
        click.echo(f"{mark:6} {name} ({found.campaigns:,} campaigns)")
        if found.problem:
            click.echo(f"       {found.problem}")
        for mismatch in found.mismatches[:20]:
            click.echo(f"       {mismatch}")
        failed = failed or not found.passed
    if failed:
        raise SystemExit(1)
