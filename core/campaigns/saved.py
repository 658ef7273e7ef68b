"""Saved messages (``campaign_templates``): reusable content an owner starts campaigns from.

A saved message holds what a campaign's message holds (type, content, WhatsApp template
and variable mapping; shapes in ``core.campaigns.content``), under a unique name. Owners
write, supervisors read, every write is audited.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.campaigns import content
from core.campaigns.service import create_campaign
from core.errors import Conflict, InvalidInput, NotFound
from core.permissions import Actor, Permission, require
from sql.schema import Campaign, CampaignTemplate, WhatsAppTemplate


class SavedMessageFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5_000)
    message_type: str | None = None
    content: dict[str, Any] | None = None
    whatsapp_template_id: uuid.UUID | None = None
    variables: dict[str, Any] | None = None


def _parse(data: dict[str, Any] | SavedMessageFields) -> SavedMessageFields:
    if isinstance(data, SavedMessageFields):
        return data
    try:
        return SavedMessageFields.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"path": ".".join(str(p) for p in e["loc"]) or "message", "message": e["msg"]}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        raise InvalidInput(f"The saved message is not valid: {summary}", errors) from None


def _check(session: Session, saved: CampaignTemplate) -> None:
    if saved.message_type != "template" and saved.whatsapp_template_id is not None:
        raise InvalidInput("Only template messages use a WhatsApp template.")
    content.check_draft(saved.message_type, saved.content, saved.variables)
    if (
        saved.whatsapp_template_id is not None
        and session.get(WhatsAppTemplate, saved.whatsapp_template_id) is None
    ):
        raise InvalidInput(f"No WhatsApp template {saved.whatsapp_template_id}.")
    taken = session.scalar(
        select(CampaignTemplate.id).where(
            func.lower(CampaignTemplate.name) == saved.name.lower(),
            CampaignTemplate.id != saved.id,
        )
    )
    if taken is not None:
        raise Conflict(f"A saved message called '{saved.name}' already exists.")


def create_saved_message(
    session: Session, actor: Actor, data: dict[str, Any] | SavedMessageFields
) -> CampaignTemplate:
    require(actor, Permission.CAMPAIGN_WRITE)
    fields = _parse(data)
    if fields.name is None or not fields.name.strip():
        raise InvalidInput(
            "A saved message needs a name.", [{"path": "name", "message": "required"}]
        )
    saved = CampaignTemplate(
        id=uuid.uuid4(),
        name=fields.name.strip(),
        description=fields.description,
        message_type=fields.message_type or "text",
        content=fields.content or {},
        whatsapp_template_id=fields.whatsapp_template_id,
        variables=fields.variables or {},
        created_by=actor.id,
    )
    _check(session, saved)
    session.add(saved)
    session.flush()
    audit.record(
        session, actor, "campaign_template.create", "campaign_template", saved.id,
        {"name": saved.name, "message_type": saved.message_type},
    )  # fmt: skip
    return saved


def get_saved_message(session: Session, actor: Actor, saved_id: uuid.UUID) -> CampaignTemplate:
    require(actor, Permission.CAMPAIGN_READ)
    saved = session.get(CampaignTemplate, saved_id)
    if saved is None:
        raise NotFound(f"Saved message {saved_id} does not exist.")
    return saved


def list_saved_messages(
    session: Session, actor: Actor, *, search: str | None = None
) -> list[CampaignTemplate]:
    require(actor, Permission.CAMPAIGN_READ)
    query = select(CampaignTemplate).order_by(func.lower(CampaignTemplate.name))
    if search and search.strip():
        query = query.where(func.lower(CampaignTemplate.name).contains(search.strip().lower()))
    return list(session.scalars(query))


def update_saved_message(
    session: Session,
    actor: Actor,
    saved_id: uuid.UUID,
    data: dict[str, Any] | SavedMessageFields,
) -> CampaignTemplate:
    require(actor, Permission.CAMPAIGN_WRITE)
    changes = _parse(data).model_dump(exclude_unset=True)
    saved = get_saved_message(session, actor, saved_id)
    for key in ("name", "message_type", "content", "variables"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key} cannot be empty.", [{"path": key, "message": "required"}])
    if "name" in changes:
        changes["name"] = changes["name"].strip()
    fields = ("name", "description", "message_type", "content", "whatsapp_template_id")
    candidate = CampaignTemplate(
        id=saved.id,
        variables=changes.get("variables", saved.variables),
        **{key: changes.get(key, getattr(saved, key)) for key in fields},
    )
    _check(session, candidate)  # on the candidate: a refused change never touches the row
    for key, value in changes.items():
        setattr(saved, key, value)
    session.flush()
    audit.record(
        session, actor, "campaign_template.update", "campaign_template", saved.id,
        {"name": saved.name, "fields": sorted(changes)},
    )  # fmt: skip
    return saved


def delete_saved_message(session: Session, actor: Actor, saved_id: uuid.UUID) -> None:
    require(actor, Permission.CAMPAIGN_WRITE)
    saved = get_saved_message(session, actor, saved_id)
    name = saved.name
    session.delete(saved)
    session.flush()
    audit.record(
        session, actor, "campaign_template.delete", "campaign_template", saved_id, {"name": name}
    )


def campaign_from_saved_message(
    session: Session,
    actor: Actor,
    saved_id: uuid.UUID,
    *,
    name: str,
    segment_id: uuid.UUID | None = None,
) -> Campaign:
    """A new draft campaign carrying the saved message's content."""
    saved = get_saved_message(session, actor, saved_id)
    return create_campaign(
        session,
        actor,
        {
            "name": name,
            "segment_id": segment_id,
            "message_type": saved.message_type,
            "message_content": dict(saved.content),
            "whatsapp_template_id": saved.whatsapp_template_id,
            "template_variables": dict(saved.variables),
        },
    )
