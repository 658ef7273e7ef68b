"""The shapes of campaign requests and answers (``/api/campaigns``, saved messages).

Requests that create or change a campaign reuse the core's own ``CampaignFields`` (unknown
fields are refused; only the fields sent change on PUT), so the API and the app validate
alike. Answers are built from core objects with ``of``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from core.campaign_progress import ProgressView
from core.campaigns import Estimate, Preview, Readiness, local_time
from core.campaigns.launch import LaunchReport
from core.sending import SendRequest
from sql.schema import Campaign, CampaignTemplate, Notification


class ExcludedOut(BaseModel):
    """Segment members the launch left out, by reason."""

    opted_out: int
    cooldown: int
    invalid_phone: int
    duplicate_phone: int
    missing_variable: int
    invalid_content: int


class CampaignOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    status: str = Field(
        description="draft, scheduled, running, paused, completed, failed or cancelled"
    )
    status_reason: str | None = Field(description="Why it is paused, failed or back to draft.")
    segment_id: uuid.UUID | None
    whatsapp_account_id: uuid.UUID | None
    message_type: str
    message_content: dict[str, Any]
    whatsapp_template_id: uuid.UUID | None
    template_variables: dict[str, Any]
    scheduled_at: datetime | None = Field(description="The start, in UTC.")
    scheduled_local: datetime | None = Field(description="The start on the zone's own clock.")
    timezone: str
    rate_limit: int = Field(description="Messages per second at most.")
    expires_at: datetime | None
    total_recipients: int
    excluded: ExcludedOut
    sent_count: int
    delivered_count: int
    read_count: int
    failed_count: int
    replied_count: int
    opted_out_count: int
    started_at: datetime | None
    completed_at: datetime | None
    paused_at: datetime | None
    cancelled_at: datetime | None
    run_id: str | None = Field(description="The Dagster run that launched it, if one did.")
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignOut:
        fields = {
            name: getattr(campaign, name) for name in cls.model_fields if hasattr(campaign, name)
        }
        excluded = {
            name: getattr(campaign, f"excluded_{name}") for name in ExcludedOut.model_fields
        }
        return cls(**fields, excluded=ExcludedOut(**excluded), scheduled_local=local_time(campaign))


class CampaignPageOut(BaseModel):
    items: list[CampaignOut]
    limit: int
    offset: int
    has_more: bool


class ScheduleIn(BaseModel):
    """When to start, on the clock of an IANA timezone."""

    date: dt.date = Field(description="The local date, e.g. 2026-03-06.")
    time: dt.time = Field(description="The local time, e.g. 09:00.")
    timezone: str = Field(
        min_length=1, max_length=64, description="An IANA zone.", examples=["Asia/Jakarta"]
    )


class ReasonIn(BaseModel):
    reason: str | None = Field(
        default=None, max_length=1_000, description="Recorded in the audit log and shown."
    )


class TestSendIn(BaseModel):
    phone: str = Field(min_length=3, max_length=40, description="The number to send to.")
    contact_id: uuid.UUID | None = Field(
        default=None, description="Whose values fill the message (default: that number's contact)."
    )


class TestSendOut(BaseModel):
    wamid: str
    to: str


class LaunchOut(BaseModel):
    members: int
    recipients: int
    excluded: dict[str, int]
    seconds: float
    warnings: list[str]

    @classmethod
    def of(cls, report: LaunchReport) -> LaunchOut:
        return cls(
            members=report.members,
            recipients=report.recipients,
            excluded=report.excluded,
            seconds=round(report.seconds, 3),
            warnings=report.warnings,
        )


class DispatchOut(BaseModel):
    """Who sends the campaign now."""

    via: str = Field(
        description="dagster (a run was submitted), local (this server sends it), already (a "
        "sender was already on it) or none (it is no longer running)."
    )
    run_id: str | None
    detail: str

    @classmethod
    def of(cls, request: SendRequest) -> DispatchOut:
        return cls(via=request.via, run_id=request.run_id, detail=request.detail)


class SendOut(BaseModel):
    campaign: CampaignOut
    launch: LaunchOut
    dispatch: DispatchOut


class ResumeOut(BaseModel):
    campaign: CampaignOut
    dispatch: DispatchOut


class EstimateOut(BaseModel):
    members: int
    recipients: int
    excluded: dict[str, int]
    messaging_limit_tier: str | None
    messaging_limit: int | None
    warnings: list[str]

    @classmethod
    def of(cls, estimate: Estimate) -> EstimateOut:
        return cls(**estimate.__dict__)


class MissingOut(BaseModel):
    label: str
    missing: int
    total: int


class ReadinessOut(BaseModel):
    ready: bool
    problems: list[str] = Field(description="What keeps it from being sent now.")
    warnings: list[str]
    estimate: EstimateOut | None
    missing: list[MissingOut] = Field(description="Variables some recipients have no value for.")

    @classmethod
    def of(cls, readiness: Readiness) -> ReadinessOut:
        return cls(
            ready=readiness.ready,
            problems=readiness.problems,
            warnings=readiness.warnings,
            estimate=EstimateOut.of(readiness.estimate) if readiness.estimate else None,
            missing=[
                MissingOut(label=m.label, missing=m.missing, total=m.total)
                for m in readiness.missing
            ],
        )


class PreviewOut(BaseModel):
    text: str
    payload: dict[str, Any] | None
    missing: list[str]
    problem: str | None
    contact_id: uuid.UUID | None
    contact_name: str | None
    phone: str
    sample: bool

    @classmethod
    def of(cls, preview: Preview) -> PreviewOut:
        return cls(**preview.__dict__)


class ProgressOut(BaseModel):
    campaign_id: uuid.UUID
    status: str
    total: int
    sent: int
    delivered: int
    read: int
    failed: int
    queued: int
    expired: int
    cancelled: int
    fraction: float = Field(description="Finished (sent, failed, expired, cancelled) / total.")
    rate_per_second: float
    eta_seconds: float | None
    measured_at: datetime | None

    @classmethod
    def of(cls, view: ProgressView) -> ProgressOut:
        return cls(**view.__dict__)


class ExclusionOut(BaseModel):
    contact_id: uuid.UUID
    phone: str
    reason: str
    detail: str | None


class SavedMessageOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    message_type: str
    content: dict[str, Any]
    whatsapp_template_id: uuid.UUID | None
    variables: dict[str, Any]
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, saved: CampaignTemplate) -> SavedMessageOut:
        return cls(**{name: getattr(saved, name) for name in cls.model_fields})


class CampaignFromSavedIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    segment_id: uuid.UUID | None = None


class NotificationOut(BaseModel):
    id: uuid.UUID
    kind: str
    title: str
    body: str | None
    campaign_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, notification: Notification) -> NotificationOut:
        return cls(**{name: getattr(notification, name) for name in cls.model_fields})
