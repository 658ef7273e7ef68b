"""``siaran sandbox``: run the local WhatsApp Cloud API sandbox in the foreground."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError


@click.command("sandbox")
@click.option("--host", default=None, help="Address to listen on  [default: SIARAN_API_HOST]")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port to listen on  [default: SIARAN_SANDBOX_PORT]",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file with sandbox settings (any field of SandboxConfig; see docs/sandbox.md).",
)
@click.option("--webhook-url", default=None, help="Where to POST signed webhooks.")
@click.option("--latency-ms", type=click.FloatRange(0), default=None, help="[default: 150]")
@click.option("--jitter-ms", type=click.FloatRange(0), default=None, help="[default: 30]")
@click.option(
    "--throughput", type=click.IntRange(1), default=None, help="Messages/second per number [80]."
)
@click.option("--seed", type=int, default=None, help="Seed of the outcome mix [0].")
@click.option(
    "--service-window/--no-service-window",
    default=None,
    help="Enforce the 24-hour customer service window for free-form messages [on].",
)
def sandbox(
    host: str | None,
    port: int | None,
    config_file: Path | None,
    webhook_url: str | None,
    latency_ms: float | None,
    jitter_ms: float | None,
    throughput: int | None,
    seed: int | None,
    service_window: bool | None,
) -> None:
    """Serve a local WhatsApp Cloud API (Graph paths + /_sandbox control API) until Ctrl-C."""
    from core.settings import get_settings
    from sandbox import SandboxConfig, serve

    settings = get_settings()
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            values = json.loads(config_file.read_text())
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"{config_file} is not JSON: {exc}") from None
        if not isinstance(values, dict):
            raise click.BadParameter(f"{config_file} must hold a JSON object")
    options = {
        "latency_ms": latency_ms,
        "latency_jitter_ms": jitter_ms,
        "throughput_per_second": throughput,
        "seed": seed,
        "enforce_service_window": service_window,
    }
    patch: dict[str, Any] = {key: value for key, value in options.items() if value is not None}
    if webhook_url is not None:
        patch["webhooks"] = {"url": webhook_url}
    try:
        config = SandboxConfig.model_validate(values).merged(patch)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise click.UsageError(f"Bad sandbox configuration: {problems}") from None
    host = host or settings.api_host
    port = port or settings.sandbox_port
    click.echo(
        f"Phone number id {config.phone_number_id}, WABA {config.waba_id}, "
        f"token {config.access_token!r}; control API at http://{host}:{port}/_sandbox"
    )
    if config.webhooks.url:
        click.echo(f"Signed webhooks go to {config.webhooks.url}")
    serve(config, host, port, click.echo)
