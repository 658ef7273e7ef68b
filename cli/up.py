"""``siaran up``: start the whole system on one machine.

Creates and migrates the database, seeds demo data on first start, then runs every part
as a child process with its URL printed: the WhatsApp sandbox (when no real account is
connected), the HTTP server (webhooks + REST API), the Streamlit app and Dagster (UI and
daemon via ``dagster dev``). Ctrl-C stops them all. Once the sandbox listens, it becomes
the WhatsApp account (templates synced) if none is connected.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import click

from core.bootstrap import bootstrap
from core.settings import PROJECT_ROOT, ConfigurationError, Settings, get_settings

DAGSTER_YAML = """\
# Dagster instance for the embedded default: runs, schedules and sensor cursors are kept
# here so they survive restarts. Production: see docs/dagster.production.yaml.
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      # One run per campaign at a time: a second fence behind the database status guard.
      - key: siaran/campaign
        value:
          applyLimitPerUniqueValue: true
        limit: 1
"""


@dataclass
class Part:
    """One child process of ``siaran up``."""

    name: str
    command: list[str]
    url: str
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


SANDBOX = "WhatsApp sandbox"


def prepare(settings: Settings, seed_contacts: int | None) -> str:
    """Create the data folders, migrate, seed on first start; returns what was done."""
    from core.segments.features import compute_features_timed, features_computed_at
    from sql.demo_data import has_contacts, seed_demo
    from sql.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    home = settings.resolved_dagster_home
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(DAGSTER_YAML)
    app = bootstrap(settings)
    app.secrets  # noqa: B018 - creates the demo secrets key on first start
    upgrade(app.engine)
    note = "database migrated"
    if seed_contacts and not has_contacts(app.engine):
        click.echo(f"First start: seeding {seed_contacts:,} demo contacts ...")
        report = seed_demo(app.engine, contacts=seed_contacts)
        note += f"; demo data seeded ({report})"
    with app.uow.session() as session:
        never_computed = features_computed_at(session) is None
    if never_computed and has_contacts(app.engine):
        # Segments filter on contact features; without them every segment would be empty
        # until Dagster's first refresh, a minute or more after the app is up.
        note += f"; {compute_features_timed(app.engine)}"
    app.engine.dispose()
    return note


def child_environment(settings: Settings, sandbox_url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = settings.resolved_database_url
    env["DAGSTER_HOME"] = str(settings.resolved_dagster_home)
    env["SIARAN_DATA_DIR"] = str(settings.data_dir.resolve())
    env["SIARAN_ENV"] = settings.env
    if sandbox_url:
        env["SIARAN_SANDBOX_URL"] = sandbox_url
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def plan_parts(settings: Settings, with_dagster: bool, with_sandbox: bool) -> list[Part]:
    python = sys.executable
    host = settings.api_host
    parts: list[Part] = []
    if with_sandbox:
        parts.append(
            Part(
                SANDBOX,
                [python, "-m", "cli.main", "sandbox", "--host", host,
                 "--port", str(settings.sandbox_port),
                 "--webhook-url", f"http://{host}:{settings.api_port}/webhook"],
                f"http://{host}:{settings.sandbox_port}/_sandbox",
                settings.sandbox_port,
            )
        )  # fmt: skip
    parts.append(
        Part(
            "HTTP server (REST API + webhooks)",
            [python, "-m", "cli.main", "serve-api", "--host", host,
             "--port", str(settings.api_port)],
            f"http://{host}:{settings.api_port}/api/docs",
            settings.api_port,
        )
    )  # fmt: skip
    parts.append(
        Part(
            "Streamlit app",
            [python, "-m", "streamlit", "run", str(PROJECT_ROOT / "app" / "main.py"),
             "--server.address", host, "--server.port", str(settings.app_port),
             "--server.headless", "true"],
            f"http://{host}:{settings.app_port}",
            settings.app_port,
        )
    )  # fmt: skip
    if with_dagster:
        parts.append(
            Part(
                "Dagster UI + daemon",
                [python, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"),
                 "-h", host, "-p", str(settings.dagster_port)],
                f"http://{host}:{settings.dagster_port}",
                settings.dagster_port,
            )
        )  # fmt: skip
    return parts


def check_ports_free(host: str, parts: list[Part]) -> None:
    for part in parts:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, part.port))
            except OSError:
                raise ConfigurationError(
                    f"Port {part.port} for the {part.name} is in use; stop what holds it or "
                    "choose another with SIARAN_API_PORT / SIARAN_APP_PORT / "
                    "SIARAN_DAGSTER_PORT / SIARAN_SANDBOX_PORT."
                ) from None


def wait_until_listening(host: str, part: Part, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if part.process is not None and part.process.poll() is not None:
            return False
        try:
            with socket.create_connection((host, part.port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def stop_all(parts: list[Part], grace: float = 10.0) -> None:
    running = [p for p in parts if p.process is not None and p.process.poll() is None]
    for part in running:
        _signal_group(part, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for part in running:
        assert part.process is not None
        try:
            part.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(part, signal.SIGKILL)
            part.process.wait()


def _signal_group(part: Part, sig: signal.Signals) -> None:
    assert part.process is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(part.process.pid, sig)


def connect_sandbox_account(settings: Settings, sandbox_url: str) -> None:
    """With the sandbox listening: make it the account (if none is) and sync its templates."""
    from core.errors import SiaranError
    from core.sandbox_account import connect_sandbox_if_unconnected

    app = bootstrap(settings)
    try:
        setup = connect_sandbox_if_unconnected(app, sandbox_url)
    except SiaranError as exc:  # the demo still starts; the owner can connect in the app
        click.secho(f"  Could not connect the WhatsApp sandbox account: {exc}", fg="yellow")
        return
    finally:
        app.engine.dispose()
    if setup is not None:
        click.echo(f"  {setup}")


def sandbox_needed(settings: Settings) -> bool:
    """The sandbox runs unless a real (non-sandbox) WhatsApp account is connected."""
    from sqlalchemy import select

    from sql.schema import WhatsAppAccount

    app = bootstrap(settings)
    try:
        with app.uow.session() as session:
            real = session.scalar(
                select(WhatsAppAccount.id).where(
                    WhatsAppAccount.is_active, WhatsAppAccount.is_sandbox.is_(False)
                )
            )
            return real is None
    finally:
        app.engine.dispose()


@click.command("up")
@click.option("--contacts", type=int, default=None, help="Demo contacts to seed on first start.")
@click.option("--no-seed", is_flag=True, help="Do not seed demo data on first start.")
@click.option("--no-dagster", is_flag=True, help="Do not start Dagster.")
def up(contacts: int | None, no_seed: bool, no_dagster: bool) -> None:
    """Start Siaran: database, demo data, sandbox, HTTP server, app and Dagster."""
    settings = get_settings()
    seed = None if no_seed else (contacts if contacts is not None else settings.demo_contacts)
    click.echo(prepare(settings, seed))
    with_sandbox = sandbox_needed(settings)
    parts = plan_parts(settings, with_dagster=not no_dagster, with_sandbox=with_sandbox)
    check_ports_free(settings.api_host, parts)
    sandbox_url = f"http://{settings.api_host}:{settings.sandbox_port}" if with_sandbox else None
    env = child_environment(settings, sandbox_url)
    stopping = False

    def _stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        for part in parts:
            part.process = subprocess.Popen(
                part.command, env=env, cwd=PROJECT_ROOT, start_new_session=True
            )
            ok = wait_until_listening(settings.api_host, part, timeout=90)
            if not ok:
                raise click.ClickException(f"The {part.name} did not start; see its output above.")
            click.secho(f"  {part.name:<34} {part.url}", fg="green")
            if part.name == SANDBOX and sandbox_url:
                connect_sandbox_account(settings, sandbox_url)
        click.secho("Siaran is up. Press Ctrl-C to stop.", bold=True)
        while not stopping:
            for part in parts:
                assert part.process is not None
                if part.process.poll() is not None:
                    raise click.ClickException(
                        f"The {part.name} exited with code {part.process.returncode}."
                    )
            time.sleep(0.5)
        click.echo("Stopping ...")
    finally:
        stop_all(parts)
    click.echo("Stopped.")
