"""``siaran webhooks``: the stored webhook events, from the command line."""

from __future__ import annotations

import click

from core.bootstrap import bootstrap
from core.webhooks import retry_due_events


@click.group("webhooks")
def webhooks() -> None:
    """WhatsApp webhook events stored by the server."""


@webhooks.command("retry")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=5000, show_default=True,
              help="At most this many events in one go.")  # fmt: skip
def retry(limit: int) -> None:
    """Process stored events whose processing failed (and is due) or never happened.

    What the Dagster sensor webhook_retry_sensor does every minute; safe to run any time.
    """
    siaran = bootstrap()
    try:
        report = retry_due_events(siaran, limit=limit)
    finally:
        siaran.engine.dispose()
    click.echo(str(report))
    if report.failed:
        raise SystemExit(1)
