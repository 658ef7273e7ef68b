"""The operational database: every table Siaran reads and writes.

CRM tables (profiles, contacts, labels, contact_labels, conversations) are what the
shared inbox owns; Siaran reads them. The campaign tables are Siaran's own. The schema
is changed only through Alembic migrations in ``sql/migrations``; a test compares the two.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sql.types import JSONType, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("owner", "supervisor", "agent")
CONVERSATION_STATUSES = ("incoming", "in_progress", "waiting", "resolved", "closed")
SEGMENT_KINDS = ("dynamic", "static")
CAMPAIGN_STATUSES = (
    "draft",
    "scheduled",
    "running",
    "paused",
    "completed",
    "failed",
    "cancelled",
)
MESSAGE_TYPES = ("text", "image", "document", "video", "template")
MESSAGE_STATUSES = (
    "pending",
    "sending",
    "sent",
    "delivered",
    "read",
    "failed",
    "expired",
    "cancelled",
)
EXCLUSION_REASONS = (
    "opted_out",
    "cooldown",
    "invalid_phone",
    "duplicate_phone",
    "missing_variable",
    "invalid_content",
)
WEBHOOK_EVENT_STATES = ("received", "processed", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)


def _updated() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)


# --- people and access ------------------------------------------------------------------


class Profile(Base):
    """A user of the shared inbox; their role decides what Siaran lets them do."""

    __tablename__ = "profiles"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[uuid.UUID] = _id()
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class ApiToken(Base):
    """A bearer token for the REST API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = _id()
    profile_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditLog(Base):
    """One row per write: who (and in which role) did what to which object."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_target", "target_type", "target_id"),
        Index("ix_audit_log_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL"), index=True
    )
    actor_email: Mapped[str] = mapped_column(String(254))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()


# --- CRM ------------------------------------------------------------------------------------


class Contact(Base):
    """A customer of the business, keyed by their WhatsApp number in E.164."""

    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_updated_at", "updated_at"),)

    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Label(Base):
    __tablename__ = "labels"

    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    color: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = _created()


class ContactLabel(Base):
    __tablename__ = "contact_labels"
    __table_args__ = (
        Index("ix_contact_labels_label_contact", "label_id", "contact_id"),
        # The segment sensor looks for labels added since its cursor.
        Index("ix_contact_labels_created_at", "created_at"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    label_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = _created()


class Conversation(Base):
    """A thread in the shared inbox with its workflow status and customer rating."""

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint(_in("status", CONVERSATION_STATUSES), name="status"),
        CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="rating"),
        Index("ix_conversations_contact_last", "contact_id", "last_message_at"),
        Index("ix_conversations_last_message_at", "last_message_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    rating: Mapped[int | None] = mapped_column(Integer)
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _created()
    last_message_at: Mapped[datetime]


# --- segments -------------------------------------------------------------------------------


class LabelBit(Base):
    """The bit of ``contact_features.label_bits`` that stands for a label (at most 63)."""

    __tablename__ = "label_bits"

    label_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True
    )
    bit: Mapped[int] = mapped_column(Integer, unique=True)
    mask: Mapped[int] = mapped_column(BigInteger)  # 1 << bit, stored: portable arithmetic
    assigned_at: Mapped[datetime]


class ContactFeature(Base):
    """One denormalised row per contact with everything segment criteria filter on.

    Conversation aggregates, the labels as a bitmask and a copy of the custom fields, so a
    segment is counted in one scan of one table. Kept by
    ``core.segments.features.refresh_contact_features``, which rewrites only rows whose
    values changed; ``computed_at`` is when a row last changed.
    """

    __tablename__ = "contact_features"

    contact_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    last_interaction_at: Mapped[datetime | None]
    # Status of the conversation with the latest message; NULL when there is none.
    latest_status: Mapped[str | None] = mapped_column(String(20))
    # One bit per CONVERSATION_STATUSES entry (bit i = status i seen in any conversation).
    statuses_seen: Mapped[int] = mapped_column(Integer, default=0)
    conversation_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    avg_rating: Mapped[float | None] = mapped_column(Float)
    # Rating of the most recent rated conversation.
    latest_rating: Mapped[int | None] = mapped_column(Integer)
    # Sum of label_bits.mask over the contact's labels that have a bit.
    label_bits: Mapped[int] = mapped_column(BigInteger, default=0)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    computed_at: Mapped[datetime]


class ContactFeatureRefresh(Base):
    """A completed full refresh: every feature row reflects the CRM as of ``started_at``."""

    __tablename__ = "contact_feature_refreshes"
    __table_args__ = (Index("ix_contact_feature_refreshes_started_at", "started_at"),)

    id: Mapped[uuid.UUID] = _id()
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    changed_rows: Mapped[int] = mapped_column(Integer)


class Segment(Base):
    """A saved audience: criteria over CRM data, dynamic (follows data) or static (frozen)."""

    __tablename__ = "segments"
    __table_args__ = (CheckConstraint(_in("kind", SEGMENT_KINDS), name="kind"),)

    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    criteria: Mapped[dict[str, Any]] = mapped_column(default=dict)
    kind: Mapped[str] = mapped_column(String(10), default="dynamic")
    contact_count: Mapped[int] = mapped_column(Integer, default=0)
    reachable_count: Mapped[int] = mapped_column(Integer, default=0)
    last_refreshed_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class SegmentMember(Base):
    """The materialized membership of a segment at its last snapshot."""

    __tablename__ = "segment_members"
    __table_args__ = (Index("ix_segment_members_contact", "contact_id"),)

    segment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    snapshot_at: Mapped[datetime]


class SegmentMembershipChange(Base):
    """Who entered or left a segment at each refresh."""

    __tablename__ = "segment_membership_changes"
    __table_args__ = (
        CheckConstraint("change IN ('entered', 'left')", name="change"),
        Index("ix_segment_membership_changes_segment_at", "segment_id", "changed_at"),
        # Deleting contacts cascades here; without it each delete scans the table.
        Index("ix_segment_membership_changes_contact", "contact_id"),
    )

    id: Mapped[uuid.UUID] = _id()
    segment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    change: Mapped[str] = mapped_column(String(10))
    changed_at: Mapped[datetime]


# --- WhatsApp -------------------------------------------------------------------------------


class WhatsAppAccount(Base):
    """A connected WhatsApp Business Account and phone number; secrets are encrypted."""

    __tablename__ = "whatsapp_accounts"

    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200))
    waba_id: Mapped[str] = mapped_column(String(64))
    phone_number_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_phone_number: Mapped[str | None] = mapped_column(String(32))
    verified_name: Mapped[str | None] = mapped_column(String(200))
    quality_rating: Mapped[str | None] = mapped_column(String(20))
    messaging_limit_tier: Mapped[str | None] = mapped_column(String(40))
    throughput_level: Mapped[str | None] = mapped_column(String(40))
    throughput_per_second: Mapped[int] = mapped_column(Integer, default=80)
    api_base_url: Mapped[str] = mapped_column(String(255))
    api_version: Mapped[str] = mapped_column(String(16), default="v25.0")
    access_token_encrypted: Mapped[str] = mapped_column(Text)
    app_secret_encrypted: Mapped[str] = mapped_column(Text)
    verify_token_encrypted: Mapped[str] = mapped_column(Text)
    is_sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    connected_at: Mapped[datetime] = _created()
    last_checked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class WhatsAppTemplate(Base):
    """A message template as approved (or not) by Meta, synced from the WABA."""

    __tablename__ = "whatsapp_templates"
    __table_args__ = (
        UniqueConstraint("account_id", "name", "language", name="uq_whatsapp_templates_key"),
        Index("ix_whatsapp_templates_status", "status"),
    )

    id: Mapped[uuid.UUID] = _id()
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("whatsapp_accounts.id", ondelete="CASCADE")
    )
    meta_template_id: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    parameter_format: Mapped[str] = mapped_column(String(16), default="POSITIONAL")
    components: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    variables: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    quality_score: Mapped[str | None] = mapped_column(String(20))
    rejected_reason: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


# --- campaigns ------------------------------------------------------------------------------


class CampaignTemplate(Base):
    """A saved, reusable message an owner can start a campaign from."""

    __tablename__ = "campaign_templates"
    __table_args__ = (CheckConstraint(_in("message_type", MESSAGE_TYPES), name="message_type"),)

    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    message_type: Mapped[str] = mapped_column(String(20))
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    whatsapp_template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("whatsapp_templates.id", ondelete="SET NULL")
    )
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Campaign(Base):
    """A broadcast: audience, message, schedule, pacing and live counters."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(_in("status", CAMPAIGN_STATUSES), name="status"),
        CheckConstraint(_in("message_type", MESSAGE_TYPES), name="message_type"),
        CheckConstraint("rate_limit > 0", name="rate_limit"),
        Index("ix_campaigns_status_scheduled", "status", "scheduled_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    segment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("segments.id", ondelete="RESTRICT"), index=True
    )
    whatsapp_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("whatsapp_accounts.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default="draft")
    status_reason: Mapped[str | None] = mapped_column(Text)
    message_type: Mapped[str] = mapped_column(String(20), default="text")
    # text body / media link or id, caption, filename; see core.campaigns.content.
    message_content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    whatsapp_template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("whatsapp_templates.id", ondelete="SET NULL")
    )
    # template variable -> {"source": "field"|"fixed", "value": ..., "fallback": ...}
    template_variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    scheduled_at: Mapped[datetime | None]
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Jakarta")
    rate_limit: Mapped[int] = mapped_column(Integer, default=20)
    expires_at: Mapped[datetime | None]
    total_recipients: Mapped[int] = mapped_column(Integer, default=0)
    excluded_opted_out: Mapped[int] = mapped_column(Integer, default=0)
    excluded_cooldown: Mapped[int] = mapped_column(Integer, default=0)
    excluded_invalid_phone: Mapped[int] = mapped_column(Integer, default=0)
    excluded_duplicate_phone: Mapped[int] = mapped_column(Integer, default=0)
    excluded_missing_variable: Mapped[int] = mapped_column(Integer, default=0)
    excluded_invalid_content: Mapped[int] = mapped_column(Integer, default=0)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    delivered_count: Mapped[int] = mapped_column(Integer, default=0)
    read_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    replied_count: Mapped[int] = mapped_column(Integer, default=0)
    opted_out_count: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    run_id: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class CampaignMessage(Base):
    """The outbox: one row per recipient, the unit of progress and of truth."""

    __tablename__ = "campaign_messages"
    __table_args__ = (
        CheckConstraint(_in("status", MESSAGE_STATUSES), name="status"),
        UniqueConstraint("campaign_id", "phone", name="uq_campaign_messages_campaign_phone"),
        Index("ix_campaign_messages_campaign_status", "campaign_id", "status"),
        # The sender claims due messages per campaign: (campaign, pending, due by now).
        Index("ix_campaign_messages_claim", "campaign_id", "status", "next_attempt_at"),
        Index("ix_campaign_messages_phone_sent", "phone", "sent_at"),
        Index("ix_campaign_messages_contact_sent", "contact_id", "sent_at"),
        Index("ix_campaign_messages_wamid", "wamid", unique=True),
        # The warehouse loads what changed since its last watermark (core.analytics).
        Index("ix_campaign_messages_updated_at", "updated_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    phone: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    rendered_content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    wamid: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    error_code: Mapped[int | None] = mapped_column(BigInteger)
    # sender.errors category of the last failure (transient, throttled, recipient, ...).
    error_category: Mapped[str | None] = mapped_column(String(20))
    error_title: Mapped[str | None] = mapped_column(String(255))
    error_message: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    reply_text: Mapped[str | None] = mapped_column(Text)
    reply_wamid: Mapped[str | None] = mapped_column(String(128))
    # When the recipient opted out in answer to this message (counted in opted_out_count).
    opted_out_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class CampaignProgress(Base):
    """A running campaign's progress as the sender last measured it (sent / total, rate, ETA).

    Written by ``sender.progress`` every few seconds from the outbox's per-status counts, so
    the app, the API and the Dagster run show the same figures.
    """

    __tablename__ = "campaign_progress"

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    total: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)  # pending + sending
    sent: Mapped[int] = mapped_column(Integer, default=0)  # accepted by Meta (sent and beyond)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    expired: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    rate_per_second: Mapped[float] = mapped_column(Float, default=0.0)
    eta_seconds: Mapped[float | None] = mapped_column(Float)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = _updated()


class SenderWorker(Base):
    """A sender process serving one WhatsApp number, and its heartbeat.

    Claims (``campaign_messages.claimed_by``) name the worker; when its heartbeat stops,
    other workers release its claims for reconciliation (see ``sender.workers``).
    """

    __tablename__ = "sender_workers"
    __table_args__ = (Index("ix_sender_workers_account_heartbeat", "account_id", "heartbeat_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    # Not foreign keys: a liveness record must not block deleting an account or campaign.
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # None: all of the number's
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]


class CampaignExclusion(Base):
    """A segment member the launch left out, and why (the downloadable exclusion list)."""

    __tablename__ = "campaign_exclusions"
    __table_args__ = (
        CheckConstraint(_in("reason", EXCLUSION_REASONS), name="reason"),
        Index("ix_campaign_exclusions_campaign_reason", "campaign_id", "reason"),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    phone: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


class ContactPreference(Base):
    """A contact's messaging preferences: opt-out state and last broadcast (for cooldown)."""

    __tablename__ = "contact_preferences"
    __table_args__ = (Index("ix_contact_preferences_opted_out", "opted_out"),)

    contact_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None]
    opt_out_reason: Mapped[str | None] = mapped_column(Text)
    opt_out_source: Mapped[str | None] = mapped_column(String(40))
    opted_in_at: Mapped[datetime | None]
    opted_in_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )
    last_broadcast_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = _updated()


class WebhookEvent(Base):
    """Every webhook body Meta sent, stored raw before it is processed."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        CheckConstraint(_in("state", WEBHOOK_EVENT_STATES), name="state"),
        Index("ix_webhook_events_state_next", "state", "next_attempt_at"),
        Index("ix_webhook_events_received_at", "received_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = _created()
    field: Mapped[str | None] = mapped_column(String(64))
    raw_body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20), default="received")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """An in-app notification for a profile (campaign started, finished, paused...)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_profile_created", "profile_id", "created_at"),)

    id: Mapped[uuid.UUID] = _id()
    profile_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = _created()
    read_at: Mapped[datetime | None]


metadata = Base.metadata
