"""The Campaign Builder's drafts: unsaved values checked and previewed, saved, reopened, copied.

The builder keeps a campaign's values in the browser session until the owner saves them.
``check_values`` tells what those values would do by writing them into a transaction that
is always rolled back and asking the very functions a saved campaign gets
(``core.campaigns``: readiness, preview, content problems), so nothing is stored and no rule
is written twice. ``save_draft`` stores the values (a scheduled campaign goes back to
draft), ``open_draft`` loads one for editing, ``duplicate_campaign`` starts a new draft from
any campaign, and ``contact_fields`` lists the fields a message can be personalized with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.campaigns import (
    CampaignFields,
    Preview,
    Readiness,
    check_campaign,
    create_campaign,
    get_campaign,
    preview_campaign,
    unschedule_campaign,
    update_campaign,
)
from core.campaigns import content as message_content
from core.campaigns.audience import member_ids
from core.campaigns.personalize import SAMPLE_RECIPIENT, Personalizer, Recipient
from core.campaigns.service import parse_fields
from core.db import UnitOfWork
from core.errors import Conflict, InvalidInput, SiaranError
from core.permissions import Actor, Permission, require
from core.settings import Settings
from core.templates import RenderedTemplate, extract_variables, render
from sql.schema import Campaign, Contact, Segment, WhatsAppTemplate
from sql.types import utcnow

#: Statuses the builder opens: later ones have their audience and message fixed at launch.
BUILDER_STATUSES = ("draft", "scheduled")
#: Contacts read to discover custom field names (their keys, not their values).
FIELD_SAMPLE = 1_000
COPIED = (
    "description",
    "segment_id",
    "message_type",
    "message_content",
    "whatsapp_template_id",
    "template_variables",
    "rate_limit",
)


@dataclass
class DraftCheck:
    """What unsaved values would do: malformed input, message gaps, preview, readiness."""

    errors: list[dict[str, str]] = field(default_factory=list)  # malformed values (by path)
    error: str | None = None  # the malformed values in one sentence
    message_problems: list[str] = field(default_factory=list)  # what the message still lacks
    preview: Preview | None = None
    bubble: RenderedTemplate | None = None  # the preview drawn as WhatsApp shows it
    readiness: Readiness | None = None  # only when asked for (it reads the whole audience)

    @property
    def valid(self) -> bool:
        return not self.errors and self.error is None


def _write(
    session: Session, actor: Actor, campaign_id: uuid.UUID | None, fields: CampaignFields
) -> Campaign:
    """Create the draft, or bring an existing one (back) to draft with these values."""
    if campaign_id is None:
        return create_campaign(session, actor, fields)
    campaign = open_draft(session, actor, campaign_id)
    if campaign.status == "scheduled":
        unschedule_campaign(session, actor, campaign_id)
    return update_campaign(session, actor, campaign_id, fields)


def check_values(
    uow: UnitOfWork,
    actor: Actor,
    values: dict[str, Any] | CampaignFields,
    *,
    settings: Settings,
    campaign_id: uuid.UUID | None = None,
    readiness: bool = False,
    launching: bool = True,
    now: datetime | None = None,
) -> DraftCheck:
    """Check and preview ``values`` as if saved, storing nothing (see the module docstring).

    With ``readiness`` the whole audience is read: problems, warnings, the estimate and
    the missing-variable report, for sending now (``launching``) or later.
    """
    require(actor, Permission.CAMPAIGN_WRITE)
    now = now or utcnow()
    try:
        fields = parse_fields(values)
    except InvalidInput as exc:
        return DraftCheck(errors=exc.errors, error=exc.message)
    with uow.session() as session:  # never committed: rolled back when the block ends
        try:
            campaign = _write(session, actor, campaign_id, fields)
        except InvalidInput as exc:
            return DraftCheck(errors=exc.errors, error=exc.message)
        except SiaranError as exc:  # e.g. the draft was launched or deleted meanwhile
            return DraftCheck(error=exc.message)
        template = _template(session, campaign)
        check = DraftCheck(
            message_problems=message_content.problems(
                campaign.message_type,
                campaign.message_content,
                template,
                campaign.template_variables,
            )
        )
        check.preview = preview_campaign(session, actor, campaign.id, now=now)
        check.bubble = _bubble(session, campaign, template, check.preview)
        if readiness:
            check.readiness = check_campaign(
                session, actor, campaign.id, settings=settings, now=now, launching=launching
            )
        session.rollback()
    return check


def _template(session: Session, campaign: Campaign) -> WhatsAppTemplate | None:
    if campaign.message_type != "template" or campaign.whatsapp_template_id is None:
        return None
    return session.get(WhatsAppTemplate, campaign.whatsapp_template_id)


def _bubble(
    session: Session, campaign: Campaign, template: WhatsAppTemplate | None, preview: Preview
) -> RenderedTemplate | None:
    """The previewed message as parts of a WhatsApp bubble (header, media, body, buttons)."""
    kind, body = campaign.message_type, campaign.message_content
    if kind == "text":
        return RenderedTemplate(body=preview.text)
    if kind in ("image", "video", "document"):
        name = f" {body['filename']}" if body.get("filename") else ""
        shown = body.get("link") or (
            f"uploaded file{name} (media id {body['media_id']})"
            if body.get("media_id")
            else "no media chosen yet"
        )
        if kind == "document" and body.get("filename") and body.get("link"):
            shown = f"{body['filename']} · {shown}"
        return RenderedTemplate(header_media={"type": kind, "value": shown}, body=preview.text)
    if template is None:
        return None
    contact = session.get(Contact, preview.contact_id) if preview.contact_id else None
    recipient = (
        Recipient(contact.id, contact.name, contact.phone, contact.custom_fields or {})
        if contact is not None
        else SAMPLE_RECIPIENT
    )
    personalizer = Personalizer.for_campaign(campaign, template)
    values, missing = personalizer.values(recipient)
    shown_values = {k: v if k == "header.media" else " ".join(v.split()) for k, v in values.items()}
    for slot in missing:
        shown_values[slot.key] = "{" + slot.value + "}"
    for variable in extract_variables(template.components):
        shown_values.setdefault(variable.key, f"<{variable.key}>")
    try:
        return render(template.components, shown_values)
    except InvalidInput:
        return None  # the preview's problem says why


# --- saving and reopening ------------------------------------------------------------------


def open_draft(session: Session, actor: Actor, campaign_id: uuid.UUID) -> Campaign:
    """A draft or scheduled campaign to edit in the builder; Conflict for any other status."""
    require(actor, Permission.CAMPAIGN_WRITE)
    campaign = get_campaign(session, actor, campaign_id)
    if campaign.status not in BUILDER_STATUSES:
        raise Conflict(
            f"Campaign '{campaign.name}' is {campaign.status}; only drafts and scheduled "
            "campaigns can be edited in the Campaign Builder (a launched campaign's audience "
            "and message are fixed). Duplicate it to start a new draft from it."
        )
    return campaign


def save_draft(
    session: Session,
    actor: Actor,
    values: dict[str, Any] | CampaignFields,
    *,
    campaign_id: uuid.UUID | None = None,
) -> Campaign:
    """Store the values as a draft: a new one, or the given draft or scheduled campaign.

    A scheduled campaign saved as a draft is unscheduled first (it keeps its values but
    waits for the owner again).
    """
    return _write(session, actor, campaign_id, parse_fields(values))


def duplicate_campaign(
    session: Session, actor: Actor, campaign_id: uuid.UUID, *, name: str | None = None
) -> Campaign:
    """A new draft with the campaign's audience choice, message and pace (any status)."""
    require(actor, Permission.CAMPAIGN_WRITE)
    source = get_campaign(session, actor, campaign_id)
    values: dict[str, Any] = {key: getattr(source, key) for key in COPIED}
    values["message_content"] = dict(source.message_content or {})
    values["template_variables"] = dict(source.template_variables or {})
    values["name"] = name or _copy_name(session, source.name)
    copy = create_campaign(session, actor, values)
    audit.record(
        session, actor, "campaign.duplicate", "campaign", copy.id,
        {"name": copy.name, "source_id": str(source.id), "source_name": source.name},
    )  # fmt: skip
    return copy


def _copy_name(session: Session, name: str) -> str:
    base = f"{name[:185]} (copy"
    taken = set(
        session.scalars(
            select(Campaign.name).where(func.lower(Campaign.name).startswith(base.lower()))
        )
    )
    candidate, n = f"{base})", 2
    while candidate in taken:
        candidate, n = f"{base} {n})", n + 1
    return candidate


# --- what a message can use -----------------------------------------------------------------


def contact_fields(
    session: Session, actor: Actor, *, segment_id: uuid.UUID | None = None
) -> list[str]:
    """``name``, ``phone`` and the custom fields found on contacts (the segment's first).

    Custom fields are free-form per contact, so their names are discovered from a sample:
    the segment's members when a segment is given, plus the most recently updated contacts.
    """
    require(actor, Permission.CAMPAIGN_READ)
    found: set[str] = set()
    segment = session.get(Segment, segment_id) if segment_id is not None else None
    queries = [select(Contact.custom_fields).order_by(Contact.updated_at.desc())]
    if segment is not None:
        members = member_ids(segment, utcnow()).subquery()
        queries.insert(
            0, select(Contact.custom_fields).join(members, members.c.contact_id == Contact.id)
        )
    for query in queries:
        for fields in session.scalars(query.limit(FIELD_SAMPLE)):
            if isinstance(fields, dict):
                found.update(str(key) for key in fields)
    valid = {name for name in found if message_content.PLACEHOLDER.fullmatch("{" + name + "}")}
    custom = sorted(valid - set(message_content.BUILTIN_FIELDS), key=str.lower)
    return [*message_content.BUILTIN_FIELDS, *custom]


@dataclass(frozen=True)
class SegmentChoice:
    """A segment as the builder offers it."""

    id: uuid.UUID
    name: str
    kind: str  # "dynamic" or "static"
    contact_count: int
    last_refreshed_at: datetime | None


def segment_choices(session: Session, actor: Actor) -> list[SegmentChoice]:
    """Every segment a campaign may go to, by name."""
    require(actor, Permission.SEGMENT_READ)
    rows = session.execute(
        select(
            Segment.id, Segment.name, Segment.kind, Segment.contact_count, Segment.last_refreshed_at
        ).order_by(func.lower(Segment.name), Segment.id)
    )
    return [SegmentChoice(*row) for row in rows]
