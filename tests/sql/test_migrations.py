"""Migrations build the whole schema on both engines, and the schema matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from sql.migrate import current_revision, head_revision
from sql.schema import metadata

# The columns the specification and the issues name; a missing one is a broken contract.
SPEC_COLUMNS: dict[str, set[str]] = {
    "profiles": {"id", "email", "full_name", "role", "password_hash", "is_active"},
    "contacts": {"id", "name", "phone", "timezone", "custom_fields", "created_at", "updated_at"},
    "labels": {"id", "name"},
    "contact_labels": {"contact_id", "label_id"},
    "conversations": {
        "id", "contact_id", "status", "rating", "created_at", "last_message_at", "message_count",
    },
    "segments": {
        "id", "name", "description", "criteria", "kind", "contact_count",
        "last_refreshed_at", "created_by", "created_at", "updated_at",
    },
    "campaigns": {
        "id", "name", "description", "segment_id", "status", "message_type",
        "message_content", "whatsapp_template_id", "template_variables", "scheduled_at",
        "timezone", "rate_limit", "total_recipients", "sent_count", "delivered_count",
        "read_count", "failed_count", "replied_count", "opted_out_count", "started_at",
        "completed_at", "created_by", "created_at", "updated_at", "expires_at",
    },
    "campaign_messages": {
        "id", "campaign_id", "contact_id", "phone", "status", "rendered_content", "wamid",
        "attempts", "error_code", "error_message", "sent_at", "delivered_at", "read_at",
        "failed_at", "replied_at", "created_at", "updated_at",
    },
    "contact_preferences": {
        "contact_id", "opted_out", "opted_out_at", "opt_out_reason", "last_broadcast_at",
    },
    "whatsapp_templates": {
        "id", "name", "language", "category", "status", "components", "variables",
        "last_synced_at",
    },
    "campaign_templates": {"id", "name", "message_type", "content", "variables"},
    "whatsapp_accounts": {
        "id", "waba_id", "phone_number_id", "access_token_encrypted", "app_secret_encrypted",
        "verify_token_encrypted",
    },
    "webhook_events": {"id", "dedupe_key", "raw_body", "payload", "received_at", "state"},
    "audit_log": {"id", "actor_id", "actor_role", "action", "target_type", "target_id",
                  "details", "created_at"},
}  # fmt: skip


def test_upgrade_reaches_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()


def test_every_specified_column_exists(engine: Engine) -> None:
    inspector = inspect(engine)
    for table, columns in SPEC_COLUMNS.items():
        present = {c["name"] for c in inspector.get_columns(table)}
        assert columns <= present, f"{table} lacks {sorted(columns - present)}"


def test_migrations_match_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_query_indexes_exist(engine: Engine) -> None:
    inspector = inspect(engine)
    names = {
        table: {ix["name"] for ix in inspector.get_indexes(table)}
        for table in ("contact_labels", "conversations", "campaign_messages")
    }
    assert "ix_contact_labels_label_contact" in names["contact_labels"]
    assert "ix_conversations_contact_last" in names["conversations"]
    assert {"ix_campaign_messages_campaign_status", "ix_campaign_messages_wamid"} <= names[
        "campaign_messages"
    ]
