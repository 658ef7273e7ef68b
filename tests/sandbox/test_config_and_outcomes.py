"""Configuration (defaults, runtime patches, the CLI) and the outcome rules, as pure logic."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

import sandbox
from cli.sandbox import sandbox as sandbox_command
from sandbox.config import SandboxConfig
from sandbox.library import default_templates
from sandbox.outcomes import decide, draws, timeline
from sandbox.templates import TemplateStore, parse_template
from sandbox.validation import OutgoingMessage


def test_public_names() -> None:
    assert sorted(sandbox.__all__) == [
        "OutcomeMix",
        "SandboxConfig",
        "SandboxServer",
        "ThreadedServer",
        "Timing",
        "WebhookSettings",
        "create_app",
        "serve",
        "signature",
    ]


def test_defaults_are_the_documented_demo_account() -> None:
    config = SandboxConfig()
    assert config.latency_ms == 150 and config.throughput_per_second == 80
    assert config.pair_rate_interval_s == 6 and config.enforce_service_window is True
    assert config.display_digits == "6281100000000"
    assert config.accepts_version("v25.0") and not config.accepts_version("v25")


def test_patch_merges_nested_settings_and_validates_the_whole() -> None:
    config = SandboxConfig().merged({"webhooks": {"duplicate_rate": 0.5}, "latency_ms": 10})
    assert config.webhooks.duplicate_rate == 0.5 and config.webhooks.max_attempts == 6
    assert config.latency_ms == 10
    with pytest.raises(ValidationError):
        SandboxConfig().merged({"webhooks": {"url": "ftp://example"}})
    with pytest.raises(ValidationError):
        SandboxConfig().merged({"outcomes": {"failure_codes": {"999": 1}}})
    with pytest.raises(ValidationError):
        SandboxConfig().merged({"no_such_setting": 1})


def test_config_endpoint(sandbox: Any) -> None:
    url = sandbox.url + "/_sandbox/config"
    assert httpx.get(url).json()["throughput_per_second"] == 80
    bad = httpx.patch(url, json={"throughput_per_second": 0, "timing": {"jitter": 3}})
    assert bad.status_code == 422
    message = bad.json()["error"]["message"]
    assert "throughput_per_second" in message and "timing.jitter" in message
    assert httpx.get(url).json()["throughput_per_second"] == 80  # nothing applied
    good = httpx.patch(url, json={"throughput_per_second": 1000, "webhooks": {"batch_max": 100}})
    assert good.status_code == 200
    assert (
        good.json()["throughput_per_second"] == 1000 and good.json()["webhooks"]["batch_max"] == 100
    )


def test_reset_forgets_messages_and_restores_the_library(graph: httpx.Client) -> None:
    graph.post("/_sandbox/templates/generate", json={"count": 10})
    graph.post("/_sandbox/inbound", json={"from": "6281234567890", "text": "halo"})
    assert graph.post("/_sandbox/reset").status_code == 200
    assert graph.get("/_sandbox/messages").json() == {"data": [], "total": 0}
    assert graph.get("/_sandbox/templates").json()["count"] == len(default_templates())


# --- outcomes -----------------------------------------------------------------------------


STORE = TemplateStore()
for _definition in default_templates():
    STORE.add(parse_template(STORE.next_id(), _definition))


def _message(wa_id: str, template: str | None = "promo_akhir_tahun") -> OutgoingMessage:
    found = STORE.lookup(template, "id") if template else None
    return OutgoingMessage(to_input=wa_id, wa_id=wa_id, type="template", text="", template=found)


def test_draws_are_fixed_by_seed_recipient_and_ordinal() -> None:
    assert draws(1, "6281", 0) == draws(1, "6281", 0)
    assert draws(1, "6281", 0) != draws(2, "6281", 0)
    assert draws(1, "6281", 0) != draws(1, "6281", 1)
    assert all(0 <= u < 1 for u in draws(7, "6281", 3))


def test_mix_proportions() -> None:
    config = SandboxConfig.model_validate(
        {"outcomes": {"delivered": 1, "read": 2, "replied": 1, "failed": 0}}
    )
    counts = Counter(
        decide(
            config, _message(f"6281{n:07d}7"), draws(0, f"6281{n:07d}7", 0), window_open=False
        ).kind
        for n in range(4000)
    )
    assert abs(counts["read"] / 4000 - 0.5) < 0.03
    assert abs(counts["delivered"] / 4000 - 0.25) < 0.03
    assert counts["failed"] == 0


def test_rules_come_before_the_mix() -> None:
    config = SandboxConfig()
    u = draws(0, "x", 0)
    assert decide(config, _message("6281234560000"), u, window_open=True).error_code == 131026
    assert decide(config, _message("16505551234"), u, window_open=True).error_code == 131049
    text = OutgoingMessage(to_input="6281", wa_id="6281234567890", type="text", text="hi")
    assert decide(config, text, u, window_open=False).error_code == 131047
    relaxed = config.merged({"enforce_service_window": False, "outcomes": {"failed": 0}})
    assert decide(relaxed, text, u, window_open=False).kind != "failed"


def test_timeline_is_ordered_and_follows_the_outcome() -> None:
    config = SandboxConfig()
    for n in range(200):
        u = draws(0, "6281", n)
        outcome = decide(config, _message(f"6282{n:07d}7"), u, window_open=False)
        steps = timeline(config, outcome, u)
        delays = [delay for _, delay in steps]
        assert delays == sorted(delays)
        names = [name for name, _ in steps]
        expected = {
            "delivered": ["sent", "delivered"],
            "read": ["sent", "delivered", "read"],
            "replied": ["sent", "delivered", "read", "reply"],
        }.get(outcome.kind)
        if expected is None:
            assert names[0] == "failed"
        else:
            assert names == expected


# --- the CLI ------------------------------------------------------------------------------


def test_cli_refuses_bad_configuration(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_json = tmp_path / "sandbox.json"
    bad_json.write_text("{nope")
    result = runner.invoke(sandbox_command, ["--config", str(bad_json)])
    assert result.exit_code == 2 and "is not JSON" in result.output
    bad_value = tmp_path / "values.json"
    bad_value.write_text(json.dumps({"throughput_per_second": -5}))
    result = runner.invoke(sandbox_command, ["--config", str(bad_value)])
    assert result.exit_code == 2 and "throughput_per_second" in result.output
    result = runner.invoke(sandbox_command, ["--webhook-url", "not a url"])
    assert result.exit_code == 2 and "webhooks.url" in result.output
