"""The webhook retry sensor asks for a run only when events wait; the job processes them."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest
from sqlalchemy import select

from core.bootstrap import Siaran
from core.webhooks import read_body
from core.webhooks.intake import store_events
from pipelines.resources import SiaranResource
from pipelines.webhooks import webhook_retry_job, webhook_retry_sensor
from sql.schema import WebhookEvent
from sql.types import utcnow
from tests.core.webhooks import builders
from tests.core.webhooks.payloads import encode, envelope, status, statuses_change


@pytest.fixture
def resources(db_url: str) -> dict[str, SiaranResource]:
    return {"siaran": SiaranResource(database_url=db_url)}


def _tick(resources: dict[str, SiaranResource]) -> dg.SensorResult:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=resources)
        return webhook_retry_sensor(context)


def _left_behind(siaran: Siaran, wamid: str, minutes_ago: int) -> None:
    body = read_body(encode(envelope(statuses_change(status(wamid, "read", utcnow())))))
    with siaran.uow.begin() as session:
        store_events(session, [body], now=utcnow() - timedelta(minutes=minutes_ago))


def test_the_sensor_skips_when_nothing_waits(siaran: Siaran, resources: dict) -> None:
    _left_behind(siaran, "wamid.fresh", minutes_ago=0)  # the receiver is on it
    result = _tick(resources)
    assert not result.run_requests
    assert "No webhook event waits" in (result.skip_reason.skip_message or "")


def test_the_sensor_requests_one_run_when_events_wait(siaran: Siaran, resources: dict) -> None:
    _left_behind(siaran, "wamid.old", minutes_ago=10)
    result = _tick(resources)
    assert len(result.run_requests or []) == 1
    assert result.run_requests[0].run_key.startswith("webhook-retry-")


def test_the_job_processes_what_waits(siaran: Siaran, resources: dict) -> None:
    with siaran.uow.begin() as session:
        builders.account(session, siaran)
        sent = builders.sent_campaign(session, 1)
    _left_behind(siaran, sent.wamids[0], minutes_ago=10)
    result = webhook_retry_job.execute_in_process(resources=resources)
    assert result.success
    assert result.output_for_node("retry_webhook_events") == 1
    with siaran.uow.session() as session:
        assert session.scalar(select(WebhookEvent.state)) == "processed"
    stored, truth = builders.counters(siaran, sent.campaign_id)
    assert stored == truth and truth.read == 1
