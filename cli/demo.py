"""``siaran demo``: demo data for trying Siaran out."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import click
from sqlalchemy import Engine

from core.bootstrap import bootstrap
from core.errors import InvalidInput
from core.segments.features import compute_features_timed
from sql.demo_data import DEFAULT_SEED, MAX_CONTACTS, SeedReport, has_contacts, seed_demo


@click.group()
def demo() -> None:
    """Demo data for trying Siaran out."""


@demo.command("seed")
@click.option(
    "--contacts",
    type=click.IntRange(0, MAX_CONTACTS),
    default=None,
    help="How many customers to create (default: SIARAN_DEMO_CONTACTS, 5000).",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    default=DEFAULT_SEED,
    show_default=True,
    help="The same seed (and --now) always gives the same data.",
)
@click.option(
    "--now",
    "now_text",
    metavar="ISO-TIME",
    help="The moment the data is relative to (default: the current time); UTC unless an "
    "offset is given, e.g. 2026-01-31T09:00:00+07:00.",
)
@click.option(
    "--reset",
    is_flag=True,
    help="Delete every contact, label and conversation first (profiles are kept).",
)
@click.option("--yes", is_flag=True, help="Do not ask before --reset deletes existing data.")
def demo_seed(
    contacts: int | None, seed: int, now_text: str | None, reset: bool, yes: bool
) -> None:
    """Fill the CRM with realistic Indonesian customers, labels and conversations."""
    app = bootstrap()
    if app.settings.env == "production":
        raise click.ClickException(
            "Refusing to seed demo data with SIARAN_ENV=production: its profiles have a "
            "well-known password."
        )
    now = _parse_now(now_text)
    count = app.settings.demo_contacts if contacts is None else contacts
    try:
        _require_migrated(app.engine)
        if reset and not yes and has_contacts(app.engine):
            click.confirm(
                "--reset deletes every contact, label and conversation in this database. Continue?",
                abort=True,
            )
        report = _seed_with_progress(app.engine, count, seed=seed, now=now, reset=reset)
        _print_report(report)
        # Segments filter on contact features: bring them in line with the new CRM data.
        click.echo(compute_features_timed(app.engine).capitalize() + ".")
    finally:
        app.engine.dispose()


def _seed_with_progress(
    engine: Engine, count: int, *, seed: int, now: datetime | None, reset: bool
) -> SeedReport:
    with ExitStack() as stack:
        bar: Any = None
        done = 0

        def advance(total: int) -> None:
            # The bar appears with the first chunk, once the refusal checks have passed.
            nonlocal bar, done
            if bar is None:
                bar = stack.enter_context(
                    click.progressbar(length=count, label="Seeding demo CRM", file=sys.stderr)
                )
            bar.update(total - done)
            done = total

        return seed_demo(
            engine, contacts=count, seed=seed, now=now, reset=reset, on_progress=advance
        )


def _require_migrated(engine: Engine) -> None:
    from sql.migrate import current_revision, head_revision

    if current_revision(engine) != head_revision():
        raise click.ClickException(
            "The database is not at the newest schema; run `siaran db upgrade` first."
        )


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"--now {text!r} is not an ISO date or time (e.g. 2026-01-31T09:00:00+07:00)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _print_report(report: SeedReport) -> None:
    if report.deleted is not None:
        removed = ", ".join(f"{n:,} {table}" for table, n in report.deleted.items())
        click.echo(f"Reset: deleted {removed}.")
    click.echo(
        f"Seeded {report.contacts:,} contacts with {report.contact_labels:,} labels and "
        f"{report.conversations:,} conversations in {report.seconds:.1f} s "
        f"(seed {report.seed}, now {report.now.isoformat(timespec='seconds')})."
    )
    click.echo(f'Demo sign-in (password "{report.password}" for profiles created now):')
    for login in report.profiles:
        note = "" if login.created else "  (already existed; password unchanged)"
        click.echo(f"  {login.role:<11} {login.email}{note}")
