"""``siaran serve-api``: run the HTTP server (REST API, health check, webhooks)."""

from __future__ import annotations

import click

from core.bootstrap import bootstrap

LOG_LEVELS = ["critical", "error", "warning", "info", "debug"]


@click.command("serve-api")
@click.option("--host", default=None, help="Address to listen on  [default: SIARAN_API_HOST]")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port to listen on  [default: SIARAN_API_PORT]",
)
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True)
def serve_api(host: str | None, port: int | None, log_level: str) -> None:
    """Serve the REST API (docs at /api/docs) and /healthz until Ctrl-C."""
    from webhook.server import serve

    # Built here, before uvicorn starts, so bad configuration is one clear line.
    siaran = bootstrap()
    host = host or siaran.settings.api_host
    port = port or siaran.settings.api_port
    click.echo(f"Siaran API on http://{host}:{port}/api/docs (health: /healthz)")
    serve(siaran, host=host, port=port, log_level=log_level)
