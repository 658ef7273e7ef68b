"""The names ``core.campaigns`` offers every entry point, pinned."""

from __future__ import annotations

import types

import core.campaigns


def test_everything_public_is_exported_and_nothing_else() -> None:
    public = {
        name
        for name, value in vars(core.campaigns).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }  # fmt: skip
    assert public == set(core.campaigns.__all__)


def test_what_the_api_app_and_jobs_call_is_there() -> None:
    assert {
        "create_campaign", "update_campaign", "delete_campaign", "get_campaign",
        "list_campaigns", "launch_campaign", "schedule_campaign", "cancel_campaign",
        "pause_campaign", "resume_campaign", "retry_failed_messages", "estimate_recipients",
        "check_campaign", "preview_campaign", "send_test_message", "may_advance", "transition",
        "due_campaigns", "start_due_campaign", "expire_messages", "notify_campaign",
        "create_saved_message", "excluded_recipients", "complete_if_finished",
    } <= set(core.campaigns.__all__)  # fmt: skip
