"""The ``send_campaign`` and expiry jobs, executed in process against the sandbox."""

from __future__ import annotations

import uuid
from datetime import timedelta

import dagster as dg

from core.bootstrap import Siaran
from core.campaigns import launch_campaign
from core.permissions import Actor
from core.sending import CAMPAIGN_TAG, SEND_OP, run_config, run_tags
from pipelines.campaigns import expire_campaign_messages_job, send_campaign_job
from pipelines.definitions import defs
from pipelines.resources import SiaranResource
from sandbox import SandboxServer
from sql.schema import Campaign, CampaignMessage
from sql.types import utcnow
from tests.core.campaigns import builders
from tests.pipelines.campaign_rig import connect, sandbox_messages, small_campaign


def execute(
    campaign_id: uuid.UUID, resource: SiaranResource, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    return send_campaign_job.execute_in_process(
        run_config=run_config(campaign_id),
        resources={"siaran": resource},
        instance=instance,
        tags=run_tags(campaign_id, "test"),
        raise_on_error=False,
    )


def statuses(siaran: Siaran, campaign_id: uuid.UUID) -> list[str]:
    with siaran.uow.session() as session:
        rows = session.query(CampaignMessage.status).filter_by(campaign_id=campaign_id).all()
        return sorted(status for (status,) in rows)


def test_definitions_register_the_campaign_job_sensor_and_schedule() -> None:
    repository = defs.get_repository_def()
    assert {"send_campaign", "expire_campaign_messages"} <= set(repository.job_names)
    assert repository.get_sensor_def("scheduled_campaigns_sensor").job_name == "send_campaign"
    sensor = repository.get_sensor_def("scheduled_campaigns_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    schedule = repository.get_schedule_def("campaign_expiry_schedule")
    assert schedule.job_name == "expire_campaign_messages"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    job = repository.get_job("send_campaign")
    assert job.tags["dagster/max_retries"] == "0"
    assert job.get_node_named(SEND_OP).definition.retry_policy is None


def test_due_scheduled_campaign_is_launched_and_sent_end_to_end(
    siaran: Siaran,
    sandbox: SandboxServer,
    dagster_env: SiaranResource,
    instance: dg.DagsterInstance,
) -> None:
    account_id = connect(siaran, sandbox)
    with siaran.uow.begin() as session:
        campaign = small_campaign(
            session,
            account_id,
            people=4,
            status="scheduled",
            scheduled_at=utcnow() - timedelta(seconds=2),
            rate_limit=50,
        )
        campaign_id = campaign.id
    result = execute(campaign_id, dagster_env, instance)

    assert result.success, result.all_events
    with siaran.uow.session() as session:
        done = session.get(Campaign, campaign_id)
        assert done is not None
        assert (done.status, done.total_recipients, done.run_id) == ("completed", 4, result.run_id)
        phones = sorted(
            p.lstrip("+")
            for (p,) in session.query(CampaignMessage.phone).filter_by(campaign_id=campaign_id)
        )
    assert statuses(siaran, campaign_id) == ["sent"] * 4
    # Exactly one message per recipient reached WhatsApp.
    assert sorted(m["wa_id"] for m in sandbox_messages(sandbox)) == phones
    summary = result.output_for_node(SEND_OP)
    assert summary == {
        "campaign_id": str(campaign_id),
        "status": "completed",
        "reason": "completed",
    }
    output = next(
        e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"
    ).event_specific_data.metadata
    assert output["sent"].value == 4 and output["total"].value == 4
    assert output["progress"].value == "4/4 sent"
    assert output["recipients"].value == 4
    assert "average_rate_per_second" in output and "eta_seconds" in output
    logs = [e.message for e in instance.all_logs(result.run_id) if e.user_message]
    assert any("4/4 sent" in (message or "") for message in logs)


def launched_campaign(
    siaran: Siaran, sandbox: SandboxServer, owner: Actor, *, people: int
) -> uuid.UUID:
    """A campaign to ``people`` contacts on the sandbox account, launched (running)."""
    account_id = connect(siaran, sandbox)
    with siaran.uow.begin() as session:
        campaign_id = small_campaign(session, account_id, people=people).id
    with siaran.uow.begin() as session:
        launch_campaign(session, owner, campaign_id, settings=siaran.settings)
    return campaign_id


def test_running_campaign_is_picked_up(
    siaran: Siaran,
    sandbox: SandboxServer,
    dagster_env: SiaranResource,
    instance: dg.DagsterInstance,
    owner: Actor,
) -> None:
    campaign_id = launched_campaign(siaran, sandbox, owner, people=2)

    result = execute(campaign_id, dagster_env, instance)

    assert result.success
    assert statuses(siaran, campaign_id) == ["sent", "sent"]
    assert len(sandbox_messages(sandbox)) == 2


def test_a_run_with_only_a_retry_hours_ahead_ends_waiting(
    siaran: Siaran,
    sandbox: SandboxServer,
    dagster_env: SiaranResource,
    instance: dg.DagsterInstance,
    owner: Actor,
) -> None:
    campaign_id = launched_campaign(siaran, sandbox, owner, people=2)
    retry_at = utcnow() + timedelta(hours=5)
    with siaran.uow.begin() as session:  # WhatsApp held both back (131049) on a first run
        for message in session.query(CampaignMessage).filter_by(campaign_id=campaign_id):
            message.attempts, message.error_code, message.next_attempt_at = 1, 131049, retry_at

    result = execute(campaign_id, dagster_env, instance)

    assert result.success
    assert result.output_for_node(SEND_OP) == {
        "campaign_id": str(campaign_id),
        "status": "running",
        "reason": "waiting",
        "next_due_at": retry_at.isoformat(),
    }
    output = next(
        e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"
    ).event_specific_data.metadata
    assert output["ended_because"].value == "waiting"
    assert output["next_due_at"].value == retry_at.isoformat()
    logs = [e.message or "" for e in instance.all_logs(result.run_id) if e.user_message]
    assert any(f"Nothing is due before {retry_at:%Y-%m-%d %H:%M:%S} UTC" in m for m in logs)
    assert statuses(siaran, campaign_id) == ["pending", "pending"]
    assert sandbox_messages(sandbox) == []
    with siaran.uow.session() as session:
        assert session.get(Campaign, campaign_id).status == "running"  # type: ignore[union-attr]


def test_campaign_not_yet_due_fails_the_run_with_the_reason(
    siaran: Siaran, dagster_env: SiaranResource, instance: dg.DagsterInstance
) -> None:
    with siaran.uow.begin() as session:
        campaign = small_campaign(
            session,
            None,
            status="scheduled",
            scheduled_at=utcnow() + timedelta(hours=2),
            timezone="Asia/Jakarta",
        )
        campaign_id = campaign.id

    result = execute(campaign_id, dagster_env, instance)

    assert not result.success
    failure = result.failure_data_for_node(SEND_OP)
    assert failure is not None and "it starts then" in (failure.error.message or "")
    with siaran.uow.session() as session:
        assert session.get(Campaign, campaign_id).status == "scheduled"  # type: ignore[union-attr]


def test_due_campaign_that_cannot_be_sent_goes_back_to_draft(
    siaran: Siaran, dagster_env: SiaranResource, instance: dg.DagsterInstance
) -> None:
    with siaran.uow.begin() as session:  # no WhatsApp account is connected
        campaign = small_campaign(
            session, None, status="scheduled", scheduled_at=utcnow() - timedelta(seconds=1)
        )
        campaign_id = campaign.id

    result = execute(campaign_id, dagster_env, instance)

    assert not result.success
    failure = result.failure_data_for_node(SEND_OP)
    assert failure is not None and "No WhatsApp account" in (failure.error.message or "")
    with siaran.uow.session() as session:
        back = session.get(Campaign, campaign_id)
        assert back is not None and back.status == "draft"
        assert "Could not start at its scheduled time" in (back.status_reason or "")


def test_bad_campaign_id_fails_clearly(
    dagster_env: SiaranResource, instance: dg.DagsterInstance
) -> None:
    result = send_campaign_job.execute_in_process(
        run_config={"ops": {SEND_OP: {"config": {"campaign_id": "nope"}}}},
        resources={"siaran": dagster_env},
        instance=instance,
        raise_on_error=False,
    )
    failure = result.failure_data_for_node(SEND_OP)
    assert failure is not None and "not a campaign id" in (failure.error.message or "")


def test_unknown_campaign_fails_clearly(
    siaran: Siaran, dagster_env: SiaranResource, instance: dg.DagsterInstance
) -> None:
    missing = uuid.uuid4()
    result = execute(missing, dagster_env, instance)
    failure = result.failure_data_for_node(SEND_OP)
    assert failure is not None and f"Campaign {missing} does not exist" in (
        failure.error.message or ""
    )
    assert result.dagster_run.tags[CAMPAIGN_TAG] == str(missing)


def test_expiry_job_expires_stale_messages_and_completes_the_campaign(
    siaran: Siaran, dagster_env: SiaranResource, instance: dg.DagsterInstance
) -> None:
    with siaran.uow.begin() as session:
        ani = builders.contact(session, "Ani", "+6281211112222")
        budi = builders.contact(session, "Budi", "+6281211113333")
        citra = builders.contact(session, "Citra", "+6281211114444")
        stale = builders.campaign(
            session, "Stale", status="running", expires_at=utcnow() - timedelta(minutes=1)
        )
        fresh = builders.campaign(
            session, "Fresh", status="running", expires_at=utcnow() + timedelta(hours=1)
        )
        builders.message(session, stale, ani)
        builders.message(session, stale, budi)
        builders.message(session, fresh, citra)
        campaign_id, later_id = stale.id, fresh.id

    result = expire_campaign_messages_job.execute_in_process(
        resources={"siaran": dagster_env}, instance=instance
    )

    assert result.success
    assert statuses(siaran, campaign_id) == ["expired", "expired"]
    assert statuses(siaran, later_id) == ["pending"]
    with siaran.uow.session() as session:
        assert session.get(Campaign, campaign_id).status == "completed"  # type: ignore[union-attr]
        assert session.get(Campaign, later_id).status == "running"  # type: ignore[union-attr]
    output = next(
        e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"
    ).event_specific_data.metadata
    assert output["messages_expired"].value == 2
    assert output["campaigns_completed"].value == 1


def test_an_interrupted_run_stops_its_sender_before_ending() -> None:
    """Dagster's termination arrives as an exception in the op's thread (here: Ctrl-C)."""
    import _thread
    import threading

    import pytest

    from pipelines.campaigns import ProgressLog, _drive

    stopped = threading.Event()
    context = dg.build_op_context()

    def sender(stop: threading.Event) -> None:
        threading.Timer(0.2, _thread.interrupt_main).start()  # the run is terminated
        stop.wait(20)  # a send loop waiting for its stop signal
        stopped.set()

    with pytest.raises(KeyboardInterrupt):
        _drive(context, sender, ProgressLog())
    assert stopped.is_set()
