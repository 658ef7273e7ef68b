"""The Campaign Builder's checks and preview: the message as a recipient gets it, and gaps.

``draft_check`` asks the core what the unsaved draft would do (``core.campaign_drafts``);
the rest draws the answer: the WhatsApp bubble, the missing-variable report, and errors in
the words of the form.
"""

from __future__ import annotations

import json
import uuid

import streamlit as st

from app import whatsapp_ui as wa
from app.wizard.state import Draft, memo
from core.bootstrap import Siaran
from core.campaign_drafts import DraftCheck, check_values
from core.campaigns.content import personal_text, placeholders
from core.errors import InvalidInput
from core.permissions import Actor

WINDOW_NOTE = (
    "Text and media messages only reach customers who wrote to you in the last 24 hours; "
    "WhatsApp refuses them for everyone else. Choose an approved template to reach the "
    "whole segment."
)


def draft_check(
    siaran: Siaran, actor: Actor, draft: Draft, *, readiness: bool = False, launching: bool = True
) -> DraftCheck:
    """``core.campaign_drafts.check_values`` on the draft (its own input errors included)."""
    try:
        fields = draft.campaign_fields()
    except InvalidInput as exc:
        return DraftCheck(errors=exc.errors, error=exc.message)
    return check_values(
        siaran.uow,
        actor,
        fields,
        settings=siaran.settings,
        campaign_id=uuid.UUID(draft.campaign_id) if draft.campaign_id else None,
        readiness=readiness,
        launching=launching,
    )


PATH_LABELS = {
    "name": "Campaign name",
    "description": "Description",
    "message_content.body": "Message",
    "message_content.link": "Link",
    "message_content.media_id": "Uploaded file",
    "message_content.caption": "Caption",
    "message_content.filename": "File name",
    "rate_limit": "Sending rate",
    "expires_at": "Expiry",
}


def path_label(path: str) -> str:
    """Where an error is, in the words of the form (``message_content.body`` -> Message)."""
    if path in PATH_LABELS:
        return PATH_LABELS[path]
    if path.startswith("message_content.fallbacks."):
        return "Fallback for {" + path.rsplit(".", 1)[1] + "}"
    if path.startswith("template_variables."):
        key = path.split(".", 1)[1]
        for part in (".value", ".fallback", ".source"):
            key = key.removesuffix(part)
        return f"Variable {key}"
    return path


def error_lines(check: DraftCheck) -> list[str]:
    if check.errors:
        return [f"{path_label(e['path'])}: {e['message']}" for e in check.errors]
    return [check.error] if check.error else []


def show_check_errors(check: DraftCheck) -> None:
    if check.errors:
        lines = "\n".join(f"- {line}" for line in error_lines(check))
        st.error(f"Fix the message first:\n{lines}", icon=":material/error:")
    elif check.error:
        st.error(check.error, icon=":material/error:")


def bubble(check: DraftCheck) -> None:
    """The preview as a WhatsApp bubble, whose message it is, and why it would not go."""
    preview = check.preview
    if check.bubble is not None:
        st.html(wa.bubble_html(check.bubble))
    if preview is None:
        return
    if preview.sample:
        st.caption(
            f"Shown with a sample customer ({preview.contact_name}): the segment has no "
            "members yet."
        )
    else:
        st.caption(f"As {preview.contact_name} ({preview.phone}) would get it.")
    if preview.missing:
        st.warning(
            f"{preview.contact_name} has no value for {', '.join(preview.missing)} and there "
            "is no fallback: they would be skipped.",
            icon=":material/person_off:",
        )
    elif preview.problem and not check.message_problems:
        st.warning(preview.problem, icon=":material/warning:")


def _slots_signature(draft: Draft) -> str:
    """What the missing-variable report depends on: the audience and the variables."""
    content = draft.message_content()
    return json.dumps(
        [
            draft.segment_id,
            draft.campaign_id,
            draft.message_type,
            draft.template_id if draft.message_type == "template" else None,
            placeholders(personal_text(draft.message_type, content)),
            content.get("fallbacks"),
            draft.template_variables(),
        ],
        sort_keys=True,
    )


def missing_report(siaran: Siaran, actor: Actor, draft: Draft) -> list[str]:
    """Per variable without a fallback, how many recipients lack it (reads the audience)."""

    def compute() -> list[str]:
        check = draft_check(siaran, actor, draft, readiness=True, launching=False)
        if check.readiness is None:
            return []
        return [str(m) for m in check.readiness.missing]

    return memo("missing", _slots_signature(draft), compute)


def live_preview(siaran: Siaran, actor: Actor, draft: Draft) -> None:
    st.markdown("**Preview**")
    check = draft_check(siaran, actor, draft)
    if not check.valid:
        show_check_errors(check)
        return
    bubble(check)
    if check.message_problems:
        lines = "\n".join(f"- {p}" for p in check.message_problems)
        st.info(f"Still needed:\n{lines}", icon=":material/checklist:")
    elif draft.segment_id:
        report = missing_report(siaran, actor, draft)
        if report:
            lines = "\n".join(f"- {line}; they will be skipped." for line in report)
            st.warning(f"**Missing values**\n{lines}", icon=":material/person_off:")
    if draft.message_type != "template":
        st.caption(WINDOW_NOTE)


def compose_errors(siaran: Siaran, actor: Actor, draft: Draft) -> list[str]:
    check = draft_check(siaran, actor, draft)
    return error_lines(check) or list(check.message_problems)
