"""Meta's webhooks: stored first, processed second, never lost, never counted twice.

POST /webhook ─► size, signature (signature), JSON object (intake.read_body)
                 │
                 ▼
receiver ─► intake.store_events ─► webhook_events (raw body, dedupe key)  ─► 200
                 │  (group commit of concurrent POSTs)
                 ▼
receiver ─► processing.process_events (batches, one transaction each)
                 ├─ envelope.read_envelope         the updates in a body
                 ├─ statuses.apply_statuses       campaign_messages, forward only
                 ├─ inbound.apply_messages        replies, opt-out/in keywords
                 ├─ inbound.apply_preferences     Meta's marketing stop/resume
                 ├─ core.optouts.apply_changes    contact_preferences
                 ├─ core.campaign_counters        campaigns' counters, same transaction
                 └─ account_events                templates, campaign pauses, quality
                 │  failure: the event stays, with its error, for a retry
                 ▼
processing.retry_due_events  (Dagster's webhook_retry_sensor, `siaran webhooks retry`)
"""

from core.campaign_counters import Counts, Deltas, stored, truth
from core.webhooks.envelope import read_envelope
from core.webhooks.intake import MAX_BODY_BYTES, Body, BodyRefused, Stored, read_body
from core.webhooks.processing import (
    BatchReport,
    Event,
    RetryReport,
    due_count,
    process_events,
    process_safely,
    retry_due_events,
)
from core.webhooks.receiver import ReceiverCounts, WebhookReceiver
from core.webhooks.signature import CredentialCache, Rejection, check_signature, sign
from core.webhooks.stats import WebhookStats, webhook_stats

__all__ = [
    "MAX_BODY_BYTES",
    "BatchReport",
    "Body",
    "BodyRefused",
    "Counts",
    "CredentialCache",
    "Deltas",
    "Event",
    "ReceiverCounts",
    "Rejection",
    "RetryReport",
    "Stored",
    "WebhookReceiver",
    "WebhookStats",
    "check_signature",
    "due_count",
    "process_events",
    "process_safely",
    "read_body",
    "read_envelope",
    "retry_due_events",
    "sign",
    "stored",
    "truth",
    "webhook_stats",
]
