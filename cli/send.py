"""``siaran send`` and ``siaran worker``: the sender for operators.

``siaran send --campaign ID`` drives one launched campaign until it completes, is cancelled
or fails (waiting while it is paused), printing its progress. ``siaran worker`` serves every
running campaign until Ctrl-C. Both stop gracefully on SIGINT or SIGTERM: claimed messages
that were not posted go back to the queue and answers in flight are recorded. Several may
run at once, on one machine or many; they share the work and the rates.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sender.progress import Progress


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (a second one leaves at once) while the block runs."""

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():  # a second Ctrl-C: leave at once (claims are reconciled later)
            raise SystemExit(130)
        click.echo(f"{signal.Signals(signum).name}: stopping after the answers in flight…")
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _printer(every: float) -> Callable[[Progress], None]:
    """Print a campaign's progress every ``every`` seconds, and whenever its status changes."""
    last: dict[uuid.UUID, tuple[float, str]] = {}

    def show(progress: Progress) -> None:
        now = time.monotonic()
        printed_at, status = last.get(progress.campaign_id, (-every, ""))
        if now - printed_at >= every or progress.status != status:
            last[progress.campaign_id] = (now, progress.status)
            click.echo(f"{str(progress.campaign_id)[:8]} {progress.describe()}")

    return show


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@click.command("send")
@click.option("--campaign", "campaign_id", type=click.UUID, required=True, help="Campaign id.")
@click.option(
    "--launch", is_flag=True, help="Launch the campaign first if it is a draft or scheduled."
)
@click.option("--worker-id", default=None, help="Name of this worker [host:pid:random].")
@click.option(
    "--paused-timeout",
    type=click.FloatRange(0),
    default=None,
    help="Return when the campaign stays paused this many seconds [wait for a resume].",
)
@click.option("--every", type=click.FloatRange(0.5), default=5.0, help="Seconds between lines.")
@click.option("-v", "--verbose", is_flag=True, help="Log what the sender does.")
def send(
    campaign_id: uuid.UUID,
    launch: bool,
    worker_id: str | None,
    paused_timeout: float | None,
    every: float,
    verbose: bool,
) -> None:
    """Send a launched campaign until it completes (or is cancelled or fails)."""
    from core.bootstrap import bootstrap
    from sender.run import run_campaign

    _logging(verbose)
    app = bootstrap()
    if launch:
        _launch(app, campaign_id)
    stop = threading.Event()
    with _stop_on_signals(stop):
        report = run_campaign(
            app,
            campaign_id,
            worker_id=worker_id,
            stop_event=stop,
            on_progress=_printer(every),
            paused_timeout=paused_timeout,
        )
    line = f"Campaign {campaign_id} is {report.status}"
    if report.status_reason:
        line += f": {report.status_reason}"
    click.echo(line)
    if report.status in ("failed", "paused") and report.reason != "stopped":
        raise SystemExit(1)


def _launch(app: Any, campaign_id: uuid.UUID) -> None:
    from core.campaigns import launch_campaign
    from core.permissions import SYSTEM_ACTOR
    from sql.schema import Campaign

    with app.uow.begin() as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is not None and campaign.status in ("draft", "scheduled"):
            report = launch_campaign(session, SYSTEM_ACTOR, campaign_id, settings=app.settings)
            click.echo(
                f"Launched to {report.recipients:,} recipients "
                f"({sum(report.excluded.values()):,} excluded) in {report.seconds:.1f} s."
            )
            for warning in report.warnings:
                click.echo(f"Warning: {warning}")


@click.command("worker")
@click.option(
    "--account", "account_id", type=click.UUID, default=None, help="Only this WhatsApp account."
)
@click.option("--worker-id", default=None, help="Name of this worker [host:pid:random].")
@click.option("--every", type=click.FloatRange(0.5), default=10.0, help="Seconds between lines.")
@click.option("-v", "--verbose", is_flag=True, help="Log what the sender does.")
def worker(account_id: uuid.UUID | None, worker_id: str | None, every: float, verbose: bool):
    """Send every running campaign, sharing each number's throughput fairly, until Ctrl-C."""
    from core.bootstrap import bootstrap
    from sender.run import run_worker

    _logging(verbose)
    stop = threading.Event()
    click.echo("Sender worker started; Ctrl-C to stop.")
    with _stop_on_signals(stop):
        run_worker(
            bootstrap(),
            worker_id=worker_id,
            account_id=account_id,
            stop_event=stop,
            on_progress=_printer(every),
        )
    click.echo("Sender worker stopped.")


if __name__ == "__main__":  # ``python -m cli.send``: the command without the whole CLI's imports
    send()
