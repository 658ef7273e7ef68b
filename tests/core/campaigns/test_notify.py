"""Notifications: rows for owners, and the outgoing webhook posted to a real local receiver."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from core.campaigns.control import cancel_campaign
from core.campaigns.launch import launch_campaign
from core.campaigns.notify import list_notifications, mark_read, wait_for_deliveries
from core.db import UnitOfWork
from core.permissions import Actor
from core.settings import Settings
from tests.core.campaigns.conftest import Shop


class Receiver:
    """A tiny HTTP server recording JSON posts; ``delay`` and ``status`` shape its answer."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.delay = 0.0
        self.status = 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                time.sleep(receiver.delay)
                receiver.bodies.append(body)
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # do not wait for a deliberately slow answer
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/siaran"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.bodies


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def hooked(settings: Settings, url: str, timeout: float = 3.0) -> Settings:
    return settings.model_copy(
        update={
            "campaign_cooldown_hours": 0,
            "notify_webhook_url": url,
            "notify_webhook_timeout": timeout,
        }
    )


def test_start_and_end_are_posted_after_commit(
    uow: UnitOfWork, owner: Actor, settings: Settings, shop: Shop, receiver: Receiver
) -> None:
    with_hook = hooked(settings, receiver.url)
    with uow.begin() as session:
        launch_campaign(session, owner, shop.campaign_id, settings=with_hook)
        time.sleep(0.2)
        assert receiver.bodies == []  # nothing leaves before the launch is committed
    (started,) = receiver.wait_for(1)
    assert started["event"] == "campaign.started"
    assert started["campaign"]["id"] == str(shop.campaign_id)
    assert started["campaign"]["name"] == "Promo"
    assert started["campaign"]["status"] == "running"
    assert started["campaign"]["total_recipients"] == 3
    with uow.begin() as session:
        cancel_campaign(session, owner, shop.campaign_id, settings=with_hook, reason="Stok habis")
    _, cancelled = receiver.wait_for(2)
    assert cancelled["event"] == "campaign.cancelled" and cancelled["reason"] == "Stok habis"


def test_nothing_is_posted_for_a_rolled_back_launch(
    uow: UnitOfWork, owner: Actor, settings: Settings, shop: Shop, receiver: Receiver
) -> None:
    with pytest.raises(RuntimeError), uow.begin() as session:
        launch_campaign(session, owner, shop.campaign_id, settings=hooked(settings, receiver.url))
        raise RuntimeError("the job crashed before committing")
    assert wait_for_deliveries(2)
    time.sleep(0.2)
    assert receiver.bodies == []


def test_a_slow_receiver_never_holds_up_the_campaign(
    uow: UnitOfWork, owner: Actor, settings: Settings, shop: Shop, receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    receiver.delay = 2.0
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, "siaran.campaigns"), uow.begin() as session:
        launch_campaign(
            session, owner, shop.campaign_id, settings=hooked(settings, receiver.url, 0.3)
        )
    assert time.monotonic() - started < 1.5
    assert wait_for_deliveries(5)
    assert "notification webhook" in caplog.text and "campaign.started" in caplog.text


def test_an_unreachable_or_failing_receiver_is_only_logged(
    uow: UnitOfWork, owner: Actor, settings: Settings, shop: Shop, receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    with caplog.at_level(logging.WARNING, "siaran.campaigns"), uow.begin() as session:
        launch_campaign(session, owner, shop.campaign_id, settings=hooked(settings, closed))
    assert wait_for_deliveries(5)
    assert f"notification webhook {closed} failed for campaign.started" in caplog.text
    receiver.status = 500
    with caplog.at_level(logging.WARNING, "siaran.campaigns"), uow.begin() as session:
        cancel_campaign(session, owner, shop.campaign_id, settings=hooked(settings, receiver.url))
    assert wait_for_deliveries(5)
    assert "answered HTTP 500 for campaign.cancelled" in caplog.text


def test_owners_read_their_notifications(
    uow: UnitOfWork, owner: Actor, supervisor: Actor, quiet_settings: Settings, shop: Shop
) -> None:
    with uow.begin() as session:
        launch_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
        cancel_campaign(session, owner, shop.campaign_id, settings=quiet_settings)
    with uow.session() as session:
        titles = [n.title for n in list_notifications(session, owner)]
        assert set(titles) == {"Campaign 'Promo' started", "Campaign 'Promo' was cancelled"}
        assert list_notifications(session, supervisor) == []
    with uow.begin() as session:
        assert mark_read(session, owner) == 2
    with uow.session() as session:
        assert list_notifications(session, owner, unread_only=True) == []


def test_the_webhook_setting_must_be_an_http_url() -> None:
    from core.settings import ConfigurationError, load_settings

    with pytest.raises(ConfigurationError, match=r"SIARAN_NOTIFY_WEBHOOK_URL: .*http"):
        load_settings({"SIARAN_NOTIFY_WEBHOOK_URL": "ftp://hooks.test/x"})
    loaded = load_settings(
        {"SIARAN_NOTIFY_WEBHOOK_URL": " https://hooks.test/siaran ", "SIARAN_ENV": "test"}
    )
    assert loaded.notify_webhook_url == "https://hooks.test/siaran"
    assert load_settings({"SIARAN_NOTIFY_WEBHOOK_URL": ""}).notify_webhook_url is None
    assert loaded.campaign_cooldown_hours == 24 and loaded.campaign_large_threshold == 10_000
