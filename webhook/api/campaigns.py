"""Campaigns: create, edit and list; send now, schedule, pause, resume, cancel; look inside.

Thin routes over ``core.campaigns`` (roles, audit and the status machine live there:
owners write, supervisors read, agents get 403; a move the status does not allow is a
409 saying why). "Send now" launches in the request (the audience is resolved and the
outbox filled; errors come back at once), then ``core.sending.request_send`` hands the
running campaign to a sender: a Dagster run, or a thread of this server without Dagster.
Resume does the same. (Retrying failed messages is ``webhook.api.analytics``.)
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response
from sqlalchemy.orm import Session

from core import campaigns as core
from core.bootstrap import Siaran
from core.campaign_progress import campaign_progress
from core.campaigns import CampaignFields
from core.errors import Conflict
from core.permissions import Actor, Permission
from core.phones import mask_phone
from core.sending import request_send
from sql.schema import CAMPAIGN_STATUSES, EXCLUSION_REASONS
from webhook.api.campaign_models import (
    CampaignOut,
    CampaignPageOut,
    DispatchOut,
    EstimateOut,
    ExclusionOut,
    LaunchOut,
    PreviewOut,
    ProgressOut,
    ReadinessOut,
    ReasonIn,
    ResumeOut,
    ScheduleIn,
    SendOut,
    TestSendIn,
    TestSendOut,
)
from webhook.deps import App, CurrentActor, DbSession

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])
CONFLICT = {409: {"description": "Not allowed in the campaign's current status (says why)"}}
NOT_FOUND = {404: {"description": "No such campaign"}}
OptionalReason = Annotated[ReasonIn | None, Body()]


def _dispatch(app: Siaran, campaign_id: uuid.UUID, trigger: str) -> DispatchOut:
    """Hand the (now running) campaign to a sender; the action itself is already saved."""
    try:
        return DispatchOut.of(request_send(app, campaign_id, trigger=trigger))
    except Conflict as exc:  # paused or cancelled in the meantime: nothing to send now
        return DispatchOut(via="none", run_id=None, detail=exc.message)


def _out(session: Session, actor: Actor, campaign_id: uuid.UUID) -> CampaignOut:
    return CampaignOut.of(core.get_campaign(session, actor, campaign_id))


# --- collection and static paths (before /{campaign_id}) -----------------------------------


@router.get("", summary="Campaigns, newest first")
def list_campaigns(
    session: DbSession,
    actor: CurrentActor,
    status: Annotated[
        list[str] | None, Query(description=f"Repeatable: {', '.join(CAMPAIGN_STATUSES)}.")
    ] = None,
    segment_id: uuid.UUID | None = None,
    search: Annotated[str, Query(max_length=200, description="Part of the name.")] = "",
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CampaignPageOut:
    found = core.list_campaigns(
        session, actor, status=status, segment_id=segment_id, search=search,
        limit=limit + 1, offset=offset,
    )  # fmt: skip
    return CampaignPageOut(
        items=[CampaignOut.of(c) for c in found[:limit]],
        limit=limit,
        offset=offset,
        has_more=len(found) > limit,
    )


@router.post("", status_code=201, summary="Create a draft (only the name is required)")
def create_campaign(
    payload: CampaignFields, session: DbSession, actor: CurrentActor
) -> CampaignOut:
    campaign = core.create_campaign(session, actor, payload)
    session.commit()
    return CampaignOut.of(campaign)


@router.get("/scheduled", summary="Scheduled campaigns, soonest first")
def scheduled(session: DbSession, actor: CurrentActor) -> list[CampaignOut]:
    return [CampaignOut.of(c) for c in core.scheduled_campaigns(session, actor)]


@router.get("/estimate", summary="Who a campaign to this segment would reach now")
def estimate_segment(
    segment_id: uuid.UUID, session: DbSession, actor: CurrentActor, app: App
) -> EstimateOut:
    estimate = core.estimate_recipients(
        session, actor, segment_id=segment_id, settings=app.settings
    )
    return EstimateOut.of(estimate)


# --- one campaign ---------------------------------------------------------------------------


@router.get("/{campaign_id}", responses=NOT_FOUND, summary="One campaign")
def get_campaign(campaign_id: uuid.UUID, session: DbSession, actor: CurrentActor) -> CampaignOut:
    return _out(session, actor, campaign_id)


@router.put(
    "/{campaign_id}",
    responses={**NOT_FOUND, **CONFLICT},
    summary="Change the given fields (drafts and scheduled: all; paused: name, description, "
    "rate limit, expiry)",
)
def update_campaign(
    campaign_id: uuid.UUID, payload: CampaignFields, session: DbSession, actor: CurrentActor
) -> CampaignOut:
    campaign = core.update_campaign(session, actor, campaign_id, payload)
    session.commit()
    return CampaignOut.of(campaign)


@router.delete(
    "/{campaign_id}",
    status_code=204,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Delete a campaign that is not running or paused",
)
def delete_campaign(campaign_id: uuid.UUID, session: DbSession, actor: CurrentActor) -> Response:
    core.delete_campaign(session, actor, campaign_id)
    session.commit()
    return Response(status_code=204)


# --- moving it through its life ---------------------------------------------------------------


@router.post(
    "/{campaign_id}/send",
    responses={**NOT_FOUND, **CONFLICT},
    summary="Send now: resolve the audience, fill the outbox, start sending",
)
def send_now(campaign_id: uuid.UUID, session: DbSession, actor: CurrentActor, app: App) -> SendOut:
    report = core.launch_campaign(session, actor, campaign_id, settings=app.settings)
    session.commit()
    dispatch = _dispatch(app, campaign_id, "send_now")
    return SendOut(
        campaign=_out(session, actor, campaign_id),
        launch=LaunchOut.of(report),
        dispatch=dispatch,
    )


@router.post(
    "/{campaign_id}/schedule",
    responses={**NOT_FOUND, **CONFLICT},
    summary="Schedule (or move) a draft to a local date and time in a timezone",
)
def schedule(
    campaign_id: uuid.UUID, payload: ScheduleIn, session: DbSession, actor: CurrentActor, app: App
) -> CampaignOut:
    campaign = core.schedule_campaign(
        session, actor, campaign_id, local_date=payload.date, local_time=payload.time,
        timezone=payload.timezone, settings=app.settings,
    )  # fmt: skip
    session.commit()
    return CampaignOut.of(campaign)


@router.post(
    "/{campaign_id}/unschedule",
    responses={**NOT_FOUND, **CONFLICT},
    summary="Take a scheduled campaign back to draft",
)
def unschedule(campaign_id: uuid.UUID, session: DbSession, actor: CurrentActor) -> CampaignOut:
    campaign = core.unschedule_campaign(session, actor, campaign_id)
    session.commit()
    return CampaignOut.of(campaign)


@router.post(
    "/{campaign_id}/cancel",
    responses={**NOT_FOUND, **CONFLICT},
    summary="Cancel a scheduled, running or paused campaign (unsent messages are dropped)",
)
def cancel(
    campaign_id: uuid.UUID,
    session: DbSession,
    actor: CurrentActor,
    app: App,
    payload: OptionalReason = None,
) -> CampaignOut:
    reason = payload.reason if payload else None
    campaign = core.cancel_campaign(
        session, actor, campaign_id, settings=app.settings, reason=reason
    )
    session.commit()
    return CampaignOut.of(campaign)


@router.post(
    "/{campaign_id}/pause",
    responses={**NOT_FOUND, **CONFLICT},
    summary="Pause a running campaign (the sender stops within a second)",
)
def pause(
    campaign_id: uuid.UUID,
    session: DbSession,
    actor: CurrentActor,
    app: App,
    payload: OptionalReason = None,
) -> CampaignOut:
    reason = payload.reason if payload else None
    campaign = core.pause_campaign(
        session, actor, campaign_id, settings=app.settings, reason=reason
    )
    session.commit()
    return CampaignOut.of(campaign)


@router.post(
    "/{campaign_id}/resume",
    responses={**NOT_FOUND, **CONFLICT},
    summary="Resume a paused campaign",
)
def resume(campaign_id: uuid.UUID, session: DbSession, actor: CurrentActor, app: App) -> ResumeOut:
    core.resume_campaign(session, actor, campaign_id)
    session.commit()
    dispatch = _dispatch(app, campaign_id, "resume")
    return ResumeOut(campaign=_out(session, actor, campaign_id), dispatch=dispatch)


# --- looking inside -----------------------------------------------------------------------


@router.get(
    "/{campaign_id}/preview",
    responses=NOT_FOUND,
    summary="The message as a contact (given, else the segment's first, else a sample) gets it",
)
def preview(
    campaign_id: uuid.UUID,
    session: DbSession,
    actor: CurrentActor,
    contact_id: uuid.UUID | None = None,
) -> PreviewOut:
    return PreviewOut.of(core.preview_campaign(session, actor, campaign_id, contact_id=contact_id))


@router.post(
    "/{campaign_id}/test-send",
    responses=NOT_FOUND,
    summary="Send the message to one number now (audited; never counted in the campaign)",
)
def test_send(
    campaign_id: uuid.UUID, payload: TestSendIn, session: DbSession, actor: CurrentActor, app: App
) -> TestSendOut:
    result = core.send_test_message(
        session, actor, app.secrets, campaign_id, payload.phone,
        contact_id=payload.contact_id, region=app.settings.default_region,
    )  # fmt: skip
    session.commit()
    to = f"+{result.wa_id}" if result.wa_id else payload.phone
    shown = to if actor.can(Permission.PHONE_UNMASKED) else mask_phone(to)
    return TestSendOut(wamid=result.wamid, to=shown)


@router.get(
    "/{campaign_id}/estimate",
    responses=NOT_FOUND,
    summary="Recipients, exclusions, warnings and missing variables if sent now",
)
def estimate(
    campaign_id: uuid.UUID, session: DbSession, actor: CurrentActor, app: App
) -> ReadinessOut:
    return ReadinessOut.of(core.check_campaign(session, actor, campaign_id, settings=app.settings))


@router.get(
    "/{campaign_id}/progress", responses=NOT_FOUND, summary="Sent / total, current rate, ETA"
)
def progress(campaign_id: uuid.UUID, session: DbSession, actor: CurrentActor) -> ProgressOut:
    return ProgressOut.of(campaign_progress(session, actor, campaign_id))


@router.get(
    "/{campaign_id}/exclusions",
    responses=NOT_FOUND,
    summary="Contacts the launch left out, and why",
)
def exclusions(
    campaign_id: uuid.UUID,
    session: DbSession,
    actor: CurrentActor,
    reason: Annotated[str | None, Query(description=", ".join(EXCLUSION_REASONS))] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ExclusionOut]:
    found = core.excluded_recipients(
        session, actor, campaign_id, reason=reason, limit=limit, offset=offset
    )
    return [ExclusionOut(**e.__dict__) for e in found]
