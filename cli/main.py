"""``siaran``: the command line. Each command group lives in its own module of ``cli``."""

from __future__ import annotations

import sys

import click

from core.bootstrap import bootstrap
from core.errors import SiaranError
from core.settings import ConfigurationError, get_settings


class SiaranGroup(click.Group):
    """Turns Siaran's own errors into one clear line and exit code 1 instead of a traceback."""

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


# Command groups that live in their own modules.
from cli.contacts import import_group  # noqa: E402
from cli.demo import demo  # noqa: E402
from cli.sandbox import sandbox  # noqa: E402
from cli.send import send, worker  # noqa: E402
from cli.serve import serve_api  # noqa: E402
from cli.up import up  # noqa: E402
from cli.warehouse import warehouse  # noqa: E402
from cli.webhooks import webhooks  # noqa: E402

main.add_command(up)
main.add_command(import_group)
main.add_command(serve_api)
main.add_command(demo)
main.add_command(sandbox)
main.add_command(send)
main.add_command(worker)
main.add_command(webhooks)
main.add_command(warehouse)

if __name__ == "__main__":
    main()
