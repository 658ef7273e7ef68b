"""Fixtures for the webhook core: a connected account and a way to deliver bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.bootstrap import Siaran
from core.webhooks import BatchReport, Event, process_events, read_body
from core.webhooks.intake import store_events
from sql.schema import WhatsAppAccount
from tests.core.webhooks import builders
from tests.core.webhooks.payloads import encode

Deliver = Callable[..., BatchReport]


@pytest.fixture
def account(siaran: Siaran) -> WhatsAppAccount:
    with siaran.uow.begin() as session:
        return builders.account(session, siaran)


@pytest.fixture
def deliver(siaran: Siaran) -> Deliver:
    """Store and process Meta-shaped bodies as the receiver does (each body one event)."""

    def run(*bodies: dict[str, Any]) -> BatchReport:
        parsed = [read_body(encode(body)) for body in bodies]
        with siaran.uow.begin() as session:
            stored = store_events(session, parsed)
        events = [Event(s.event_id, s.body.payload) for s in stored if not s.duplicate]
        with siaran.uow.begin() as session:
            return process_events(session, events, settings=siaran.settings)

    return run
