"""``siaran``: the command line. Each command group lives in its own module of ``cli``."""

from __future__ import annotations

import importlib
import sys

import click

from core.bootstrap import bootstrap
from core.errors import SiaranError
from core.settings import ConfigurationError, get_settings

#: Commands that live in their own modules, imported only when run (or listed by --help):
#: some pull in Polars, NumPy or the webhook processor, which every ``siaran`` call (and
#: each process ``siaran up`` starts) would otherwise pay for.
LAZY_COMMANDS: dict[str, str] = {
    "up": "cli.up:up",
    "import": "cli.contacts:import_group",
    "serve-api": "cli.serve:serve_api",
    "demo": "cli.demo:demo",
    "sandbox": "cli.sandbox:sandbox",
    "send": "cli.send:send",
    "worker": "cli.send:worker",
    "webhooks": "cli.webhooks:webhooks",
    "warehouse": "cli.warehouse:warehouse",
}


class SiaranGroup(click.Group):
    """Loads command modules lazily, and turns Siaran's own errors into one clear line and
    exit code 1 instead of a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (SiaranError, ConfigurationError) as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=SiaranGroup)
def main() -> None:
    """Siaran: WhatsApp broadcast campaigns for your shared-inbox CRM."""


@main.group()
def db() -> None:
    """The operational database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the database if missing and migrate it to the newest schema."""
    from sql.migrate import current_revision, upgrade

    app = bootstrap()
    upgrade(app.engine)
    click.echo(f"Database at revision {current_revision(app.engine)}: {_safe_url()}")


@db.command("current")
def db_current() -> None:
    """Print the database's schema revision."""
    from sql.migrate import current_revision, head_revision

    app = bootstrap()
    current = current_revision(app.engine)
    click.echo(f"{current or 'empty'} (newest: {head_revision()})")


@main.group()
def profile() -> None:
    """Users of Siaran (owners, supervisors, agents)."""


@profile.command("create")
@click.option("--email", required=True)
@click.option("--name", "full_name", default="")
@click.option("--role", type=click.Choice(["owner", "supervisor", "agent"]), required=True)
@click.password_option()
def profile_create(email: str, full_name: str, role: str, password: str) -> None:
    """Create a profile (audited as the system user)."""
    from core.permissions import SYSTEM_ACTOR
    from core.profiles import create_profile

    app = bootstrap()
    with app.uow.begin() as session:
        created = create_profile(
            session, SYSTEM_ACTOR, email=email, full_name=full_name, role=role, password=password
        )
        click.echo(f"Created {created.role} {created.email}")


@main.command("secret-key")
def secret_key() -> None:
    """Print a new key for SIARAN_SECRET_KEY."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())


def _safe_url() -> str:
    from sqlalchemy.engine import make_url

    return make_url(get_settings().resolved_database_url).render_as_string(hide_password=True)


if __name__ == "__main__":
    main()
