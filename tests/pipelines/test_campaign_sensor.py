"""The campaign sensor, one test per case, each with its own Dagster instance and cursor."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time, timedelta

import dagster as dg
import pytest

from core.bootstrap import Siaran
from core.campaigns import to_utc
from core.db import UnitOfWork
from core.sending import CAMPAIGN_TAG, TRIGGER_TAG, run_config
from pipelines.campaign_sensor import (
    DUE_MARGIN,
    Cursor,
    plan_runs,
    scheduled_campaigns_sensor,
)
from pipelines.resources import SiaranResource
from sql.schema import CampaignMessage
from sql.types import utcnow
from tests.core.campaigns import builders
from tests.pipelines.campaign_rig import (
    add_run,
    live_worker,
    small_campaign,
)

Status = dg.DagsterRunStatus


def tick(
    instance: dg.DagsterInstance, resource: SiaranResource, cursor: str | None = None
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"siaran": resource}
    )
    result = scheduled_campaigns_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def campaign_in(uow: UnitOfWork, status: str, **values: object) -> tuple[str, str]:
    with uow.begin() as session:
        campaign = small_campaign(session, None, status=status, **values)
        return str(campaign.id), campaign.name


def test_due_campaign_gets_a_run_with_its_key(
    uow: UnitOfWork, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    due, _ = campaign_in(uow, "scheduled", scheduled_at=utcnow() - timedelta(seconds=5))
    campaign_in(uow, "scheduled", scheduled_at=utcnow() + timedelta(hours=1))

    result = tick(instance, dagster_env)

    assert [r.run_key for r in result.run_requests] == [f"{due}:1"]
    request = result.run_requests[0]
    assert request.tags[CAMPAIGN_TAG] == due
    assert request.tags[TRIGGER_TAG] == "schedule"
    assert request.run_config == run_config(uuid.UUID(due))
    assert json.loads(result.cursor or "{}") == {"retry": {}}


def test_nothing_due_skips(
    uow: UnitOfWork, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    campaign_in(uow, "scheduled", scheduled_at=utcnow() + timedelta(minutes=10))
    campaign_in(uow, "draft")
    campaign_in(uow, "completed")

    result = tick(instance, dagster_env, cursor=Cursor().dump())

    assert result.run_requests == []
    assert result.skip_reason is not None


def test_a_requested_run_is_not_requested_again(
    uow: UnitOfWork, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    due, _ = campaign_in(uow, "scheduled", scheduled_at=utcnow() - timedelta(seconds=5))
    add_run(instance, uuid.UUID(due), Status.NOT_STARTED)

    assert tick(instance, dagster_env).run_requests == []


def test_resumed_campaign_whose_run_ended_gets_a_new_run(
    uow: UnitOfWork, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    resumed, _ = campaign_in(uow, "running", started_at=utcnow() - timedelta(hours=1))
    # Its first run drove it until it stayed paused too long and ended; then the owner
    # pressed Resume (status running again) while no run was left to see it.
    add_run(instance, uuid.UUID(resumed), Status.SUCCESS)

    result = tick(instance, dagster_env)

    assert [r.run_key for r in result.run_requests] == [f"{resumed}:2"]
    assert result.run_requests[0].tags[TRIGGER_TAG] == "resume"


def waiting_campaign(siaran: Siaran, retry_at: datetime, **held: object) -> uuid.UUID:
    """A running campaign whose run ended "waiting": one message sent, one held back by
    WhatsApp (131049) until ``retry_at``; ``held`` overrides the held-back message."""
    with siaran.uow.begin() as session:
        campaign = small_campaign(session, None, status="running", name="Promo Lebaran")
        sent = builders.contact(session, "Ani", "+6281277770001")
        waiting = builders.contact(session, "Budi", "+6281277770002")
        builders.message(session, campaign, sent, status="sent", sent_ago=timedelta(minutes=9))
        values = {"next_attempt_at": retry_at, "attempts": 1, "error_code": 131049} | held
        builders.message(session, campaign, waiting, **values)
        return campaign.id


def test_running_campaign_waiting_for_a_retry_gets_a_run_once_it_is_due(
    siaran: Siaran, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    retry_at = utcnow() + timedelta(hours=4)
    campaign_id = waiting_campaign(siaran, retry_at)
    add_run(instance, campaign_id, Status.SUCCESS)  # the run that ended "waiting"

    def planned(now: datetime) -> list[str]:
        with siaran.uow.session() as session:
            plan = plan_runs(session, instance, siaran.settings, now, Cursor())
        return [r.run_key for r in plan.requests]

    waiting = tick(instance, dagster_env)
    assert waiting.run_requests == []
    assert waiting.skip_reason is not None
    reason = waiting.skip_reason.skip_message or ""
    assert "'Promo Lebaran': next retry due at " in reason
    assert f"{retry_at:%H:%M:%S} UTC." in reason  # with its date, when not today's
    assert planned(retry_at - DUE_MARGIN - timedelta(seconds=1)) == []
    assert planned(retry_at - DUE_MARGIN) == [f"{campaign_id}:2"]  # within a tick of it

    with siaran.uow.begin() as session:  # the retry's time has come
        message = session.query(CampaignMessage).filter_by(error_code=131049).one()
        message.next_attempt_at = utcnow() - timedelta(seconds=1)
    due = tick(instance, dagster_env)

    assert [r.run_key for r in due.run_requests] == [f"{campaign_id}:2"]
    assert due.run_requests[0].tags[CAMPAIGN_TAG] == str(campaign_id)


def test_a_message_left_claimed_gets_a_run_to_reconcile_it_before_the_retry(
    siaran: Siaran, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    # Its sender died holding a claim: a driver must release it for its webhook and
    # complete it or send it again, whatever retry is due later.
    later = utcnow() + timedelta(hours=4)
    stale = utcnow() - timedelta(minutes=5)
    campaign_id = waiting_campaign(
        siaran, later, status="sending", claimed_by="gone:1", claimed_at=stale
    )
    add_run(instance, campaign_id, Status.SUCCESS)

    result = tick(instance, dagster_env)

    assert [r.run_key for r in result.run_requests] == [f"{campaign_id}:2"]


def test_paused_campaign_waits_for_its_owner(
    uow: UnitOfWork, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    paused, _ = campaign_in(uow, "paused", paused_at=utcnow())
    add_run(instance, uuid.UUID(paused), Status.SUCCESS)

    assert tick(instance, dagster_env).run_requests == []


def test_running_campaign_with_a_run_in_progress_gets_nothing(
    siaran: Siaran, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    with siaran.uow.begin() as session:
        campaign = small_campaign(session, None, status="running")
        live_worker(session, campaign)
        campaign_id = campaign.id
    add_run(instance, campaign_id, Status.STARTED)

    assert tick(instance, dagster_env).run_requests == []


def test_running_campaign_served_by_a_sender_outside_dagster_gets_nothing(
    siaran: Siaran, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    with siaran.uow.begin() as session:
        campaign = small_campaign(session, None, status="running")
        live_worker(session, campaign)  # e.g. "Send now" sending from the API process

    assert tick(instance, dagster_env).run_requests == []


def test_running_campaign_whose_sender_stopped_beating_gets_a_run(
    siaran: Siaran, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    stale = utcnow() - timedelta(minutes=5)
    with siaran.uow.begin() as session:
        campaign = small_campaign(session, None, status="running")
        live_worker(session, campaign, at=stale)
        campaign_id = str(campaign.id)

    result = tick(instance, dagster_env)

    assert [r.run_key for r in result.run_requests] == [f"{campaign_id}:1"]
    assert result.run_requests[0].tags[TRIGGER_TAG] == "recovery"


def test_dead_started_run_is_reported_failed_and_replaced(
    siaran: Siaran, instance: dg.DagsterInstance
) -> None:
    with siaran.uow.begin() as session:
        campaign = small_campaign(session, None, status="running")
        campaign_id = campaign.id
    run_id = add_run(instance, campaign_id, Status.STARTED)
    later = utcnow() + timedelta(minutes=3)  # no sender has beaten for this run since

    with siaran.uow.session() as session:
        plan = plan_runs(session, instance, siaran.settings, later, Cursor())

    dead = instance.get_run_by_id(run_id)
    assert dead is not None and dead.status == Status.FAILURE
    assert [r.run_key for r in plan.requests] == [f"{campaign_id}:2"]


def test_started_run_is_given_time_to_start_its_sender(
    siaran: Siaran, instance: dg.DagsterInstance
) -> None:
    with siaran.uow.begin() as session:
        campaign_id = small_campaign(session, None, status="running").id
    run_id = add_run(instance, campaign_id, Status.STARTED)

    with siaran.uow.session() as session:
        plan = plan_runs(session, instance, siaran.settings, utcnow(), Cursor())

    assert plan.requests == []
    started = instance.get_run_by_id(run_id)
    assert started is not None and started.status == Status.STARTED


def test_failed_run_is_retried_at_once_then_with_backoff(
    siaran: Siaran, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    due, _ = campaign_in(siaran.uow, "scheduled", scheduled_at=utcnow() - timedelta(minutes=1))
    add_run(instance, uuid.UUID(due), Status.FAILURE)

    first = tick(instance, dagster_env, cursor=None)
    assert [r.run_key for r in first.run_requests] == [f"{due}:2"]
    assert json.loads(first.cursor or "")["retry"][due]["failures"] == 1

    add_run(instance, uuid.UUID(due), Status.FAILURE)  # the retry failed too
    second = tick(instance, dagster_env, cursor=first.cursor)
    assert [r.run_key for r in second.run_requests] == [f"{due}:3"]
    entry = json.loads(second.cursor or "")["retry"][due]
    assert entry["failures"] == 2

    add_run(instance, uuid.UUID(due), Status.FAILURE)
    third = tick(instance, dagster_env, cursor=second.cursor)  # within the 1-minute backoff
    assert third.run_requests == []
    assert json.loads(third.cursor or "")["retry"][due] == entry


def test_backoff_over_retries(
    siaran: Siaran, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    due, _ = campaign_in(siaran.uow, "scheduled", scheduled_at=utcnow() - timedelta(minutes=1))
    add_run(instance, uuid.UUID(due), Status.FAILURE)
    past = (utcnow() - timedelta(seconds=1)).isoformat()
    cursor = json.dumps({"retry": {due: {"failures": 3, "not_before": past}}})

    result = tick(instance, dagster_env, cursor=cursor)

    assert [r.run_key for r in result.run_requests] == [f"{due}:2"]
    assert json.loads(result.cursor or "")["retry"][due]["failures"] == 4


def test_successful_run_clears_the_backoff(
    siaran: Siaran, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    resumed, _ = campaign_in(siaran.uow, "running")
    add_run(instance, uuid.UUID(resumed), Status.SUCCESS)
    future = (utcnow() + timedelta(hours=1)).isoformat()
    cursor = json.dumps({"retry": {resumed: {"failures": 2, "not_before": future}}})

    result = tick(instance, dagster_env, cursor=cursor)

    assert len(result.run_requests) == 1
    assert json.loads(result.cursor or "") == {"retry": {}}


def test_unreadable_cursor_starts_afresh(
    uow: UnitOfWork, instance: dg.DagsterInstance, dagster_env: SiaranResource
) -> None:
    due, _ = campaign_in(uow, "scheduled", scheduled_at=utcnow() - timedelta(seconds=1))

    result = tick(instance, dagster_env, cursor="{not json")

    assert [r.run_key for r in result.run_requests] == [f"{due}:1"]


@pytest.mark.parametrize(
    ("local_day", "local_clock", "utc_due"),
    [
        # Spring forward (2026-03-08): 03:30 EDT is 07:30 UTC, not 08:30 as EST would say.
        (date(2026, 3, 8), time(3, 30), "2026-03-08T07:30:00+00:00"),
        # Fall back (2026-11-01): 09:00 EST is 14:00 UTC, not 13:00 as EDT would say.
        (date(2026, 11, 1), time(9, 0), "2026-11-01T14:00:00+00:00"),
    ],
)
def test_scheduled_start_follows_the_zone_across_dst(
    siaran: Siaran,
    instance: dg.DagsterInstance,
    local_day: date,
    local_clock: time,
    utc_due: str,
) -> None:
    starts = to_utc(local_day, local_clock, "America/New_York")
    assert starts.isoformat() == utc_due
    with siaran.uow.begin() as session:
        campaign = small_campaign(
            session, None, status="scheduled", scheduled_at=starts, timezone="America/New_York"
        )
        campaign_id = str(campaign.id)

    def requested_at(moment: datetime) -> list[str]:
        with siaran.uow.session() as session:
            plan = plan_runs(session, instance, siaran.settings, moment, Cursor())
        return [r.tags[CAMPAIGN_TAG] for r in plan.requests]

    assert requested_at(starts - timedelta(hours=1)) == []  # the other offset's instant
    assert requested_at(starts - timedelta(seconds=1)) == []
    assert requested_at(starts) == [campaign_id]
