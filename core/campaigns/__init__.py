"""Campaigns: from a draft to an outbox of rendered messages, and their lifecycle.

    lifecycle    status machines (campaign and message) and the guarded transition
    content      the shape of a campaign's message and template variable mapping
    service      create / update / delete / get / list, with permissions and audit
    saved        saved reusable messages (campaign_templates)
    personalize  {name}/{phone}/{field} values, fallbacks, the Cloud API body per contact
    audience     segment members minus opted-out, cooldown, invalid and duplicate numbers
    readiness    what keeps a campaign from being sent, recipient estimate, warnings
    launch       launch into the outbox (once), scheduled starts
    schedule     local date/time/timezone -> UTC, DST checks, due campaigns
    control      pause, resume, cancel, complete, fail
    outbox       expiry, when work is next due, retry of failed messages, the exclusion list
    preview      preview with a contact, test send to one number
    notify       notifications to owners, the log and an outgoing webhook

Every entry point (REST API, Streamlit, Dagster, CLI) calls these functions inside a unit
of work (``uow.begin()``); permissions and audit records happen here.
"""

from core.campaigns.audience import clean_phone, member_ids
from core.campaigns.control import (
    cancel_campaign,
    complete_campaign,
    complete_if_finished,
    fail_campaign,
    pause_campaign,
    queued_messages,
    resume_campaign,
)
from core.campaigns.launch import LaunchReport, launch_campaign, start_due_campaign
from core.campaigns.lifecycle import (
    ACTIONS,
    MESSAGE_TRANSITIONS,
    TRANSITIONS,
    CampaignStatus,
    MessageStatus,
    may_advance,
    may_move,
    transition,
)
from core.campaigns.notify import (
    list_notifications,
    mark_read,
    notify_campaign,
    wait_for_deliveries,
)
from core.campaigns.outbox import (
    ExcludedRecipient,
    RetryReport,
    cancel_unsent,
    excluded_recipients,
    expire_messages,
    next_due,
    retry_failed_messages,
)
from core.campaigns.personalize import (
    MissingVariable,
    Personalizer,
    Recipient,
    missing_report,
)
from core.campaigns.preview import Preview, preview_campaign, send_test_message
from core.campaigns.readiness import (
    Estimate,
    Readiness,
    check_campaign,
    estimate_recipients,
)
from core.campaigns.saved import (
    campaign_from_saved_message,
    create_saved_message,
    delete_saved_message,
    get_saved_message,
    list_saved_messages,
    update_saved_message,
)
from core.campaigns.schedule import (
    due_campaigns,
    local_time,
    schedule_campaign,
    to_utc,
    unschedule_campaign,
)
from core.campaigns.service import (
    CampaignFields,
    create_campaign,
    delete_campaign,
    get_campaign,
    list_campaigns,
    scheduled_campaigns,
    update_campaign,
)

__all__ = [
    "ACTIONS",
    "MESSAGE_TRANSITIONS",
    "TRANSITIONS",
    "CampaignFields",
    "CampaignStatus",
    "Estimate",
    "ExcludedRecipient",
    "LaunchReport",
    "MessageStatus",
    "MissingVariable",
    "Personalizer",
    "Preview",
    "Readiness",
    "Recipient",
    "RetryReport",
    "campaign_from_saved_message",
    "cancel_campaign",
    "cancel_unsent",
    "check_campaign",
    "clean_phone",
    "complete_campaign",
    "complete_if_finished",
    "create_campaign",
    "create_saved_message",
    "delete_campaign",
    "delete_saved_message",
    "due_campaigns",
    "estimate_recipients",
    "excluded_recipients",
    "expire_messages",
    "fail_campaign",
    "get_campaign",
    "get_saved_message",
    "launch_campaign",
    "list_campaigns",
    "list_notifications",
    "list_saved_messages",
    "local_time",
    "mark_read",
    "may_advance",
    "may_move",
    "member_ids",
    "missing_report",
    "next_due",
    "notify_campaign",
    "pause_campaign",
    "preview_campaign",
    "queued_messages",
    "resume_campaign",
    "retry_failed_messages",
    "schedule_campaign",
    "scheduled_campaigns",
    "send_test_message",
    "start_due_campaign",
    "to_utc",
    "transition",
    "unschedule_campaign",
    "update_campaign",
    "update_saved_message",
    "wait_for_deliveries",
]
