"""``core.sending``: who drives a campaign, and "Send now" through Dagster or locally.

The Dagster path is tested against a real Dagster webserver (its ASGI app over the project's
definitions, in process, served by uvicorn on a free port) with a queued-run instance, so
the run the GraphQL API creates is inspected, tags and config included.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import dagster as dg
import pytest
from sqlalchemy import Engine

from core.bootstrap import Siaran
from core.campaign_progress import campaign_progress
from core.campaigns import launch_campaign, pause_campaign
from core.errors import Conflict, PermissionDenied
from core.permissions import Actor
from core.sending import (
    CAMPAIGN_TAG,
    TRIGGER_TAG,
    dagster_url,
    live_senders,
    request_send,
    run_config,
    send_campaign,
    stop_local_drivers,
)
from core.settings import Settings
from sandbox import SandboxConfig, SandboxServer
from sql.schema import Campaign
from sql.types import utcnow
from tests.pipelines.campaign_rig import connect, live_worker, sandbox_messages, small_campaign


@pytest.fixture
def siaran(settings: Settings, engine: Engine) -> Siaran:
    """Dagster not configured unless a test says so."""
    return Siaran(settings.model_copy(update={"dagster_home": None, "dagster_url": None}), engine)


@pytest.fixture(autouse=True)
def senders_stopped(siaran: Siaran) -> Iterator[None]:
    yield
    assert stop_local_drivers(timeout=30) == 0


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(latency_ms=1, latency_jitter_ms=0, enforce_service_window=False)
    with SandboxServer(config) as server:
        yield server


@pytest.fixture
def launched(siaran: Siaran, sandbox: SandboxServer, owner: Actor) -> uuid.UUID:
    """A running campaign of 3 recipients, its outbox filled, no sender on it yet."""
    account_id = connect(siaran, sandbox)
    with siaran.uow.begin() as session:
        campaign_id = small_campaign(session, account_id).id
    with siaran.uow.begin() as session:
        launch_campaign(session, owner, campaign_id, settings=siaran.settings)
    return campaign_id


def status_of(siaran: Siaran, campaign_id: uuid.UUID) -> str:
    with siaran.uow.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign.status


def wait_until(check, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- where runs go ------------------------------------------------------------------------


def test_dagster_url_comes_from_the_setting_or_dagster_home(settings: Settings) -> None:
    off = settings.model_copy(update={"dagster_home": None, "dagster_url": None})
    assert dagster_url(off) is None
    home = off.model_copy(update={"dagster_home": off.data_dir / "dagster", "dagster_port": 3123})
    assert dagster_url(home) == f"http://{off.api_host}:3123"
    given = home.model_copy(update={"dagster_url": "https://ops.example.com/dagster/"})
    assert dagster_url(given) == "https://ops.example.com/dagster"


def test_request_send_submits_a_run_to_dagster(
    siaran: Siaran,
    launched: uuid.UUID,
    dagster_webserver: tuple[str, dg.DagsterInstance],
    sandbox: SandboxServer,
) -> None:
    url, instance = dagster_webserver
    siaran.settings = siaran.settings.model_copy(update={"dagster_url": url})

    request = request_send(siaran, launched, trigger="send_now")

    assert (request.via, request.campaign_id) == ("dagster", launched)
    run = instance.get_run_by_id(request.run_id or "")
    assert run is not None and run.job_name == "send_campaign"
    assert run.status == dg.DagsterRunStatus.QUEUED  # the daemon launches it
    assert (run.tags[CAMPAIGN_TAG], run.tags[TRIGGER_TAG]) == (str(launched), "send_now")
    assert run.tags["dagster/max_retries"] == "0"
    assert run.run_config == run_config(launched)
    time.sleep(0.3)
    assert sandbox_messages(sandbox) == []  # nothing was sent from this process


def test_unreachable_dagster_falls_back_to_sending_here(
    siaran: Siaran,
    launched: uuid.UUID,
    sandbox: SandboxServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    siaran.settings = siaran.settings.model_copy(
        update={"dagster_url": f"http://127.0.0.1:{closed}"}
    )

    with caplog.at_level(logging.WARNING, logger="siaran.sending"):
        request = request_send(siaran, launched)

    assert request.via == "local"
    assert "Could not submit campaign" in caplog.text
    wait_until(lambda: status_of(siaran, launched) == "completed")
    assert len(sandbox_messages(sandbox)) == 3


def test_without_dagster_the_campaign_is_sent_from_a_thread_once(
    siaran: Siaran, launched: uuid.UUID, sandbox: SandboxServer
) -> None:
    first = request_send(siaran, launched)
    second = request_send(siaran, launched)

    assert first.via == "local"
    assert second.via == "already"
    wait_until(lambda: status_of(siaran, launched) == "completed")
    phones = [m["wa_id"] for m in sandbox_messages(sandbox)]
    assert len(phones) == len(set(phones)) == 3


def test_a_campaign_a_live_sender_serves_is_left_alone(
    siaran: Siaran, launched: uuid.UUID, sandbox: SandboxServer
) -> None:
    with siaran.uow.begin() as session:
        campaign = session.get(Campaign, launched)
        assert campaign is not None
        live_worker(session, campaign)

    request = request_send(siaran, launched)

    assert request.via == "already"
    time.sleep(0.3)
    assert sandbox_messages(sandbox) == []


def test_only_running_campaigns_are_sent(siaran: Siaran, owner: Actor) -> None:
    with siaran.uow.begin() as session:
        draft = small_campaign(session, None)
        draft_id, name = draft.id, draft.name
    with pytest.raises(Conflict, match=f"'{name}' is a draft; only running campaigns are sent"):
        request_send(siaran, draft_id)


# --- live senders ---------------------------------------------------------------------------


def test_live_senders_ignore_stale_and_dead_workers(siaran: Siaran) -> None:
    with siaran.uow.begin() as session:
        campaign = small_campaign(session, None, status="running")
        live_worker(session, campaign, at=utcnow() - timedelta(minutes=5))  # stopped beating
        live_worker(session, campaign, pid=2**22 + 12345)  # this machine, process gone
        assert live_senders(session, campaign, siaran.settings, utcnow()) == []
        live_worker(session, campaign)
        assert len(live_senders(session, campaign, siaran.settings, utcnow())) == 1


# --- the driver -----------------------------------------------------------------------------


def test_send_campaign_returns_when_a_pause_outlasts_its_patience(
    siaran: Siaran, launched: uuid.UUID, owner: Actor
) -> None:
    with siaran.uow.begin() as session:
        pause_campaign(session, owner, launched, settings=siaran.settings)

    started = time.monotonic()
    outcome = send_campaign(siaran, launched, paused_timeout=0.5)

    assert (outcome.status, outcome.reason, outcome.launch) == ("paused", "paused", None)
    assert time.monotonic() - started < 10


def test_progress_needs_campaign_read(siaran: Siaran, launched: uuid.UUID, agent: Actor) -> None:
    with siaran.uow.session() as session, pytest.raises(PermissionDenied):
        campaign_progress(session, agent, launched)
