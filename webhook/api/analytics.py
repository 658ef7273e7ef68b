"""Campaign analytics: metrics, messages, tracking, engagement, timeline, replies, export, retry.

Owners and supervisors read (``analytics:read``); agents get 403. Only owners retry
failed messages (``campaign:write``), and only those whose error class makes a retry
worthwhile (``core.campaigns.outbox``); every retry is audited. Rollups come from the
warehouse when it is current, else are computed live (``source`` says which); per-message
lists always read the operational database. The Streamlit page calls the same core
functions, so its numbers are these.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from core.analytics import export, messages, report
from core.analytics.metrics import CampaignMetrics
from core.analytics.warehouse import Warehouse
from core.campaigns.outbox import retry_failed_messages
from core.settings import Settings
from webhook.deps import App, CurrentActor, DbSession

router = APIRouter(prefix="/api/campaigns", tags=["analytics"])

PageSize = Annotated[int, Query(ge=1, le=messages.MAX_PAGE_SIZE)]
Offset = Annotated[int, Query(ge=0)]
MessageStatus = Literal[
    "pending", "sending", "sent", "delivered", "read", "failed", "expired", "cancelled"
]


def _warehouse(settings: Settings) -> Warehouse:
    return Warehouse.for_settings(settings)


class SourceOut(BaseModel):
    kind: Literal["warehouse", "live"] = Field(
        description="warehouse: the published rollups; live: computed now from the database."
    )
    as_of: datetime

    @classmethod
    def of(cls, source: report.Source) -> SourceOut:
        return cls(kind=source.kind, as_of=source.as_of)


class MetricsOut(BaseModel):
    """Every metric of docs/metrics.md; rates are 0..1 and null when their denominator is 0."""

    total_recipients: int
    sent: int
    delivered: int
    read: int
    failed: int
    replied: int
    opted_out: int
    delivery_rate: float | None = Field(description="delivered / sent")
    open_rate: float | None = Field(description="read / delivered")
    reply_rate: float | None = Field(description="replied / delivered")
    response_rate: float | None = Field(description="replied / sent")
    failure_rate: float | None = Field(description="failed / total_recipients")
    opt_out_rate: float | None = Field(description="opted_out / delivered")
    avg_reply_seconds: float | None
    median_reply_seconds: float | None

    @classmethod
    def of(cls, metrics: CampaignMetrics) -> MetricsOut:
        return cls(**metrics.as_dict())


class LatencyBucketOut(BaseModel):
    label: str
    min_seconds: int
    max_seconds: int | None = Field(description="null for the open-ended last bucket.")
    replies: int
    share: float | None


class FailureOut(BaseModel):
    error_code: int | None
    error_category: str | None = Field(description="transient, throttled, recipient, ...")
    error_title: str | None
    count: int
    retryable: bool


class AnalyticsOut(BaseModel):
    campaign_id: uuid.UUID
    name: str
    status: str
    timezone: str
    metrics: MetricsOut
    statuses: dict[str, int] = Field(description="Messages per current status, zeros included.")
    reply_latency: list[LatencyBucketOut]
    failures: list[FailureOut] = Field(description="Failed messages grouped by error (live).")
    first_sent_at: datetime | None
    last_activity_at: datetime | None
    source: SourceOut


class MessageOut(BaseModel):
    id: uuid.UUID
    contact_id: uuid.UUID | None
    contact_name: str | None
    phone: str = Field(description="E.164, masked unless your role sees phone numbers.")
    phone_masked: bool
    status: str
    attempts: int
    error_code: int | None
    error_category: str | None
    error_title: str | None
    error_message: str | None
    retryable: bool = Field(description="Failed, and its error class allows an owner's retry.")
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    replied_at: datetime | None
    opted_out_at: datetime | None
    reply_text: str | None

    @classmethod
    def of(cls, item: messages.MessageView) -> MessageOut:
        fields = set(cls.model_fields)
        return cls(**{k: v for k, v in item.__dict__.items() if k in fields})


class MessagePageOut(BaseModel):
    items: list[MessageOut]
    total: int
    limit: int
    offset: int
    has_more: bool


class TimelineEventOut(BaseModel):
    event: str = Field(description="sent, delivered, read, replied, failed or opted_out.")
    at: datetime


class WebhookEventOut(BaseModel):
    received_at: datetime
    kind: str
    status: str | None
    occurred_at: datetime | None
    delay_seconds: float | None
    matched_by: str | None
    error_code: int | None


class TrackingOut(BaseModel):
    id: uuid.UUID
    contact_name: str | None
    phone: str
    phone_masked: bool
    status: str
    attempts: int
    timeline: list[TimelineEventOut]
    seconds_to_deliver: float | None
    seconds_to_read: float | None
    seconds_to_reply: float | None
    error_code: int | None
    error_title: str | None
    webhook_events: list[WebhookEventOut] | None = Field(
        default=None,
        description="With message_id only: the stored webhooks the warehouse matched to it.",
    )


class TrackingPageOut(BaseModel):
    items: list[TrackingOut]
    total: int
    limit: int
    offset: int
    has_more: bool


class EventCounts(BaseModel):
    sent: int
    delivered: int
    read: int
    replied: int
    failed: int
    opted_out: int


class HourOut(EventCounts):
    hour_of_day: int = Field(description="0-23, on the campaign's local clock.")


class WeekdayOut(EventCounts):
    weekday: int = Field(description="1 = Monday ... 7 = Sunday, local.")
    day_name: str


class EngagementOut(BaseModel):
    campaign_id: uuid.UUID
    timezone: str
    by_hour: list[HourOut]
    by_weekday: list[WeekdayOut]
    source: SourceOut


class PointOut(EventCounts):
    period: datetime | date = Field(description="The local hour (hourly) or date (daily).")


class TimelineOut(BaseModel):
    campaign_id: uuid.UUID
    granularity: str
    timezone: str
    points: list[PointOut]
    source: SourceOut


class ReplyOut(BaseModel):
    message_id: uuid.UUID
    contact_id: uuid.UUID | None
    contact_name: str | None
    phone: str
    phone_masked: bool
    reply_text: str | None
    sent_at: datetime | None
    replied_at: datetime
    seconds_to_reply: float | None


class ReplyPageOut(BaseModel):
    items: list[ReplyOut]
    total: int
    limit: int
    offset: int
    has_more: bool


class RetryIn(BaseModel):
    message_ids: list[uuid.UUID] | None = Field(
        default=None,
        max_length=10_000,
        description="The failed messages to retry; omit or null for all retryable ones.",
    )


class RetryOut(BaseModel):
    retried: int
    skipped: dict[str, int] = Field(description="Why the others were not retried, counted.")
    reopened: bool = Field(description="The completed or failed campaign runs again.")


@router.get("/{campaign_id}/analytics", summary="Every metric of a campaign")
def get_analytics(
    campaign_id: uuid.UUID, session: DbSession, actor: CurrentActor, app: App
) -> AnalyticsOut:
    found = report.campaign_report(
        session, actor, campaign_id, warehouse=_warehouse(app.settings), settings=app.settings
    )
    failures = messages.failure_groups(session, actor, campaign_id)
    return AnalyticsOut(
        campaign_id=found.campaign_id,
        name=found.name,
        status=found.status,
        timezone=found.timezone,
        metrics=MetricsOut.of(found.metrics),
        statuses=found.statuses,
        reply_latency=[LatencyBucketOut(**b.__dict__) for b in found.reply_latency],
        failures=[FailureOut(**f.__dict__) for f in failures],
        first_sent_at=found.first_sent_at,
        last_activity_at=found.last_activity_at,
        source=SourceOut.of(found.source),
    )


@router.get("/{campaign_id}/messages", summary="A campaign's messages, by status")
def get_messages(
    campaign_id: uuid.UUID,
    session: DbSession,
    actor: CurrentActor,
    status: Annotated[MessageStatus | None, Query(description="e.g. failed")] = None,
    limit: PageSize = 50,
    offset: Offset = 0,
) -> MessagePageOut:
    page = messages.list_messages(
        session, actor, campaign_id, status=status, limit=limit, offset=offset
    )
    return MessagePageOut(
        items=[MessageOut.of(item) for item in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        has_more=page.has_more,
    )


def _tracking(item: messages.MessageView, events: list[dict[str, Any]] | None) -> TrackingOut:
    return TrackingOut(
        id=item.id,
        contact_name=item.contact_name,
        phone=item.phone,
        phone_masked=item.phone_masked,
        status=item.status,
        attempts=item.attempts,
        timeline=[TimelineEventOut(**moment) for moment in item.timeline()],
        seconds_to_deliver=item.seconds("delivered"),
        seconds_to_read=item.seconds("read"),
        seconds_to_reply=item.seconds("replied"),
        error_code=item.error_code,
        error_title=item.error_title,
        webhook_events=None if events is None else [WebhookEventOut(**e) for e in events],
    )


@router.get("/{campaign_id}/tracking", summary="Each message's delivery timeline")
def get_tracking(
    campaign_id: uuid.UUID,
    session: DbSession,
    actor: CurrentActor,
    app: App,
    message_id: Annotated[
        uuid.UUID | None, Query(description="One message, with its webhooks.")
    ] = None,
    status: MessageStatus | None = None,
    limit: PageSize = 50,
    offset: Offset = 0,
) -> TrackingPageOut:
    if message_id is not None:
        item = messages.get_message(session, actor, campaign_id, message_id)
        events = messages.message_events(actor, campaign_id, message_id, _warehouse(app.settings))
        return TrackingPageOut(
            items=[_tracking(item, events or [])], total=1, limit=1, offset=0, has_more=False
        )
    page = messages.list_messages(
        session, actor, campaign_id, status=status, limit=limit, offset=offset
    )
    return TrackingPageOut(
        items=[_tracking(item, None) for item in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        has_more=page.has_more,
    )


@router.get("/{campaign_id}/engagement", summary="Engagement per local hour of day and weekday")
def get_engagement(
    campaign_id: uuid.UUID, session: DbSession, actor: CurrentActor, app: App
) -> EngagementOut:
    found = report.engagement(
        session, actor, campaign_id, warehouse=_warehouse(app.settings), settings=app.settings
    )
    return EngagementOut(
        campaign_id=found.campaign_id,
        timezone=found.timezone,
        by_hour=[HourOut(**row) for row in found.by_hour],
        by_weekday=[WeekdayOut(**row) for row in found.by_weekday],
        source=SourceOut.of(found.source),
    )


@router.get("/{campaign_id}/timeline", summary="Events per local hour or day")
def get_timeline(
    campaign_id: uuid.UUID,
    session: DbSession,
    actor: CurrentActor,
    app: App,
    granularity: Literal["hourly", "daily"] = "hourly",
) -> TimelineOut:
    found = report.timeline(
        session,
        actor,
        campaign_id,
        granularity,
        warehouse=_warehouse(app.settings),
        settings=app.settings,
    )
    return TimelineOut(
        campaign_id=found.campaign_id,
        granularity=found.granularity,
        timezone=found.timezone,
        points=[PointOut(**point) for point in found.points],
        source=SourceOut.of(found.source),
    )


@router.get("/{campaign_id}/replies", summary="What recipients answered, newest first")
def get_replies(
    campaign_id: uuid.UUID,
    session: DbSession,
    actor: CurrentActor,
    limit: PageSize = 50,
    offset: Offset = 0,
) -> ReplyPageOut:
    page = messages.list_replies(session, actor, campaign_id, limit=limit, offset=offset)
    return ReplyPageOut(
        items=[ReplyOut(**reply.__dict__) for reply in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        has_more=page.has_more,
    )


@router.get(
    "/{campaign_id}/export",
    summary="Download the campaign report or tracking data",
    response_class=FileResponse,
    responses={200: {"description": "The file, as an attachment."}},
)
def get_export(
    campaign_id: uuid.UUID,
    session: DbSession,
    actor: CurrentActor,
    app: App,
    fmt: Annotated[Literal["csv", "xlsx", "parquet"], Query(alias="format")] = "csv",
    kind: Literal["report", "tracking"] = "report",
) -> FileResponse:
    directory = Path(tempfile.mkdtemp(prefix="siaran-export-"))
    try:
        written = export.export_campaign(
            session,
            actor,
            campaign_id,
            kind=kind,
            fmt=fmt,
            directory=directory,
            warehouse=_warehouse(app.settings),
            settings=app.settings,
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return FileResponse(
        written.path,
        media_type=written.media_type,
        filename=written.filename,
        background=BackgroundTask(shutil.rmtree, directory, ignore_errors=True),
    )


@router.post("/{campaign_id}/retry", summary="Retry failed messages (owners)")
def post_retry(
    campaign_id: uuid.UUID,
    session: DbSession,
    actor: CurrentActor,
    app: App,
    body: RetryIn | None = None,
) -> RetryOut:
    """Puts retryable failed messages (all, or the given ones) back in the outbox."""
    selected = body.message_ids if body is not None else None
    done = retry_failed_messages(
        session, actor, campaign_id, settings=app.settings, message_ids=selected
    )
    session.commit()
    return RetryOut(retried=done.retried, skipped=done.skipped, reopened=done.reopened)
