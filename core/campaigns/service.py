"""Campaigns as owners edit them: create, change, delete, read and list.

Owners write (``CAMPAIGN_WRITE``), supervisors read (``CAMPAIGN_READ``), agents neither;
every write leaves an audit record. Drafts may be incomplete; what a campaign still needs
before it can be sent is checked at schedule and launch time (``core.campaigns.launch``).

What may change in which status:

    draft, scheduled   everything (a scheduled campaign must stay ready to send: its
                       message is re-checked, so an edit cannot break it unnoticed)
    paused             name, description, rate_limit and expires_at only: the audience
                       and the message were fixed at launch, when every recipient's
                       message was rendered into the outbox
    running, ended     nothing (pause a running campaign to change its pace)

Changes are written with a conditional UPDATE on the status they were checked against, so
an edit racing a launch or a resume either lands before it or is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from core import audit
from core.campaigns import content
from core.campaigns.lifecycle import DELETABLE, EDITABLE, CampaignStatus
from core.errors import Conflict, InvalidInput, NotFound
from core.permissions import Actor, Permission, require
from core.whatsapp import active_account
from sql.schema import CAMPAIGN_STATUSES, Campaign, Segment, WhatsAppAccount, WhatsAppTemplate
from sql.types import utcnow

#: What may still change once a campaign is paused (see the module docstring).
PAUSED_FIELDS = frozenset({"name", "description", "rate_limit", "expires_at"})
MAX_RATE_LIMIT = 1_000  # Meta's highest per-number throughput


class CampaignFields(BaseModel):
    """The fields an owner sets on a campaign; on update only the given ones change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5_000)
    segment_id: uuid.UUID | None = None
    whatsapp_account_id: uuid.UUID | None = None
    message_type: str | None = None
    message_content: dict[str, Any] | None = None
    whatsapp_template_id: uuid.UUID | None = None
    template_variables: dict[str, Any] | None = None
    rate_limit: int | None = Field(default=None, ge=1, le=MAX_RATE_LIMIT)
    expires_at: datetime | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the name cannot be blank")
        return value.strip() if value is not None else None

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time with its timezone (e.g. 2026-03-01T18:00:00+07:00)")
        return value


def parse_fields(data: dict[str, Any] | CampaignFields) -> CampaignFields:
    """Validate raw input, turning pydantic's errors into one InvalidInput."""
    if isinstance(data, CampaignFields):
        return data
    try:
        return CampaignFields.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"path": ".".join(str(p) for p in e["loc"]) or "campaign", "message": e["msg"]}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        raise InvalidInput(f"The campaign is not valid: {summary}", errors) from None


def _check_references(session: Session, values: dict[str, Any]) -> None:
    errors = []
    checks = (
        ("segment_id", Segment, "segment"),
        ("whatsapp_template_id", WhatsAppTemplate, "WhatsApp template"),
        ("whatsapp_account_id", WhatsAppAccount, "WhatsApp account"),
    )
    for key, model, noun in checks:
        if values.get(key) is not None and session.get(model, values[key]) is None:
            errors.append({"path": key, "message": f"no {noun} {values[key]}"})
    if errors:
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        raise InvalidInput(f"The campaign refers to something missing: {summary}", errors)


def _check_message(state: dict[str, Any]) -> None:
    if state["message_type"] != "template" and state.get("whatsapp_template_id") is not None:
        raise InvalidInput(
            "Only template messages use a WhatsApp template; clear whatsapp_template_id or "
            "set message_type to template.",
            [{"path": "whatsapp_template_id", "message": "only for template messages"}],
        )
    content.check_draft(
        state["message_type"], state["message_content"], state["template_variables"]
    )


def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and expires_at <= now:
        raise InvalidInput(
            f"The expiry time {expires_at.isoformat()} has already passed.",
            [{"path": "expires_at", "message": "must be in the future"}],
        )


def create_campaign(
    session: Session, actor: Actor, data: dict[str, Any] | CampaignFields
) -> Campaign:
    """A new draft; only its name is required."""
    require(actor, Permission.CAMPAIGN_WRITE)
    fields = parse_fields(data)
    if fields.name is None:
        raise InvalidInput("A campaign needs a name.", [{"path": "name", "message": "required"}])
    values = fields.model_dump(exclude_none=True)
    state = {
        "message_type": values.get("message_type", "text"),
        "message_content": values.get("message_content", {}),
        "template_variables": values.get("template_variables", {}),
        "whatsapp_template_id": values.get("whatsapp_template_id"),
    }
    _check_message(state)
    _check_references(session, values)
    _check_expiry(values.get("expires_at"), utcnow())
    if "whatsapp_account_id" not in values:
        account = active_account(session)
        values["whatsapp_account_id"] = account.id if account else None
    campaign = Campaign(status=CampaignStatus.DRAFT.value, created_by=actor.id, **values)
    session.add(campaign)
    session.flush()
    audit.record(
        session, actor, "campaign.create", "campaign", campaign.id,
        {"name": campaign.name, "fields": sorted(values)},
    )  # fmt: skip
    return campaign


def get_campaign(session: Session, actor: Actor, campaign_id: uuid.UUID) -> Campaign:
    require(actor, Permission.CAMPAIGN_READ)
    return load(session, campaign_id)


def load(session: Session, campaign_id: uuid.UUID) -> Campaign:
    """The campaign (no permission check: for core functions that checked already)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"Campaign {campaign_id} does not exist.")
    return campaign


def list_campaigns(
    session: Session,
    actor: Actor,
    *,
    status: str | Iterable[str] | None = None,
    segment_id: uuid.UUID | None = None,
    search: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Campaign]:
    """Campaigns, newest first; scheduled ones alone come soonest first."""
    require(actor, Permission.CAMPAIGN_READ)
    statuses = [status] if isinstance(status, str) else list(status or [])
    unknown = [s for s in statuses if s not in CAMPAIGN_STATUSES]
    if unknown:
        raise InvalidInput(
            f"Unknown campaign status {', '.join(unknown)}; expected "
            f"{', '.join(CAMPAIGN_STATUSES)}."
        )
    query = select(Campaign)
    if statuses:
        query = query.where(Campaign.status.in_(statuses))
    if segment_id is not None:
        query = query.where(Campaign.segment_id == segment_id)
    if search and search.strip():
        query = query.where(func.lower(Campaign.name).contains(search.strip().lower()))
    if statuses == [CampaignStatus.SCHEDULED.value]:
        query = query.order_by(Campaign.scheduled_at, Campaign.id)
    else:
        query = query.order_by(Campaign.created_at.desc(), Campaign.id)
    query = query.limit(max(1, min(limit, 1_000))).offset(max(0, offset))
    return list(session.scalars(query))


def scheduled_campaigns(session: Session, actor: Actor) -> list[Campaign]:
    """Campaigns waiting for their time, soonest first."""
    return list_campaigns(session, actor, status=CampaignStatus.SCHEDULED.value, limit=1_000)


def update_campaign(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    data: dict[str, Any] | CampaignFields,
) -> Campaign:
    """Change the given fields, if the campaign's status allows them (see module doc)."""
    require(actor, Permission.CAMPAIGN_WRITE)
    fields = parse_fields(data)
    changes = fields.model_dump(exclude_unset=True)
    campaign = load(session, campaign_id)
    if not changes:
        return campaign
    if changes.get("name", "") is None:
        raise InvalidInput("A campaign needs a name.", [{"path": "name", "message": "required"}])
    for key in ("message_type", "message_content", "template_variables", "rate_limit"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key} cannot be empty.", [{"path": key, "message": "required"}])
    status = campaign.status
    if status not in EDITABLE:
        raise Conflict(
            f"Campaign '{campaign.name}' is {status}; only draft, scheduled or paused "
            "campaigns can be edited."
        )
    if status == CampaignStatus.PAUSED and set(changes) - PAUSED_FIELDS:
        frozen = ", ".join(sorted(set(changes) - PAUSED_FIELDS))
        raise Conflict(
            f"Campaign '{campaign.name}' is paused: only its name, description, rate limit "
            f"and expiry can change; its audience and message ({frozen}) were fixed at launch."
        )
    state = {
        key: changes.get(key, getattr(campaign, key))
        for key in ("message_type", "message_content", "template_variables", "whatsapp_template_id")
    }
    _check_message(state)
    _check_references(session, changes)
    if "expires_at" in changes:
        _check_expiry(changes["expires_at"], utcnow())
        expires, starts = changes["expires_at"], campaign.scheduled_at
        if status == CampaignStatus.SCHEDULED and expires and starts and expires <= starts:
            raise InvalidInput(
                f"Campaign '{campaign.name}' starts at {starts.isoformat()}; it cannot expire "
                "before it starts.",
                [{"path": "expires_at", "message": "before the scheduled start"}],
            )
    if status == CampaignStatus.SCHEDULED:
        _still_ready(session, campaign, changes)
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == status)
        .values(**changes, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        current = load(session, campaign_id)
        session.refresh(current)
        raise Conflict(
            f"Campaign '{current.name}' changed to {current.status} while you were editing it; "
            "reload it and try again."
        )
    audit.record(
        session, actor, "campaign.update", "campaign", campaign_id,
        {"name": changes.get("name", campaign.name), "status": status, "fields": sorted(changes)},
    )  # fmt: skip
    return session.get(Campaign, campaign_id, populate_existing=True)  # type: ignore[return-value]


def _still_ready(session: Session, campaign: Campaign, changes: dict[str, Any]) -> None:
    from core.campaigns.readiness import message_problems  # readiness imports this module

    merged = {
        key: changes.get(key, getattr(campaign, key))
        for key in (
            "segment_id",
            "whatsapp_account_id",
            "message_type",
            "message_content",
            "whatsapp_template_id",
            "template_variables",
        )
    }
    found = message_problems(session, **merged)
    if found:
        raise InvalidInput(
            f"Campaign '{campaign.name}' is scheduled and this change would leave it unable "
            f"to send: {' '.join(found)} Unschedule it to keep editing a draft.",
            [{"path": "campaign", "message": p} for p in found],
        )


def delete_campaign(session: Session, actor: Actor, campaign_id: uuid.UUID) -> None:
    """Delete a campaign that is not running or paused, with its outbox and notifications."""
    require(actor, Permission.CAMPAIGN_WRITE)
    campaign = load(session, campaign_id)
    name, status = campaign.name, campaign.status
    allowed = [s.value for s in DELETABLE]
    result = session.execute(
        delete(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(allowed))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        current = session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
        if current is None:
            raise NotFound(f"Campaign {campaign_id} does not exist.")
        raise Conflict(
            f"Campaign '{name}' is {current}; only draft, scheduled, completed, failed or "
            "cancelled campaigns can be deleted. Cancel it first."
        )
    session.expunge(campaign)
    audit.record(
        session, actor, "campaign.delete", "campaign", campaign_id,
        {"name": name, "status": status, "total_recipients": campaign.total_recipients},
    )  # fmt: skip
