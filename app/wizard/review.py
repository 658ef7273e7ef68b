"""Step 4 of the Campaign Builder: review everything, test it, then save, schedule or send.

The review reads the whole audience once (what blocks sending, what to know first, who is
left out and why) and keeps the answer until a value changes or the owner checks again.
A test message goes to any number; the draft is stored first, so the test is exactly what
is stored. Scheduling and sending store the draft and act on it in one transaction: when
either is refused, nothing changes.
"""

from __future__ import annotations

import uuid

import streamlit as st

from app import campaign_ui as cui
from app import ui
from app.wizard import state
from app.wizard.preview import bubble, draft_check, show_check_errors
from app.wizard.state import Draft
from core.bootstrap import Siaran
from core.campaign_drafts import DraftCheck, save_draft
from core.campaigns import (
    create_saved_message,
    launch_campaign,
    schedule_campaign,
    send_test_message,
)
from core.errors import SiaranError
from core.permissions import Actor
from core.phones import normalize_phone
from core.sending import request_send
from sql.schema import Campaign

TEST_RESULT_KEY = "cb_test_result"
CONFIRM_SEND_KEY = "cb_confirm_send"


def review(siaran: Siaran, actor: Actor, draft: Draft, segment_name: str | None) -> None:
    launching = draft.send_mode == "now"
    check = state.memo(
        "review",
        draft.signature(launching),
        lambda: draft_check(siaran, actor, draft, readiness=True, launching=launching),
    )
    summary, preview = st.columns([3, 2], gap="large")
    with summary:
        overview(draft, check, segment_name)
    with preview:
        st.markdown("**Preview**")
        bubble(check)
    blocked = verdict(check)
    if st.button("Check again", key="cb_recheck", icon=":material/refresh:"):
        state.forget_memos()
        st.rerun()
    st.divider()
    left, right = st.columns(2, gap="large")
    with left:
        test_send(siaran, actor, draft)
    with right:
        save_message(siaran, actor, draft)
    st.divider()
    finish_buttons(siaran, actor, draft, check, blocked)


def overview(draft: Draft, check: DraftCheck, segment_name: str | None) -> None:
    estimate = check.readiness.estimate if check.readiness else None
    lines = [
        f"**Name:** {draft.name}",
        f"**Segment:** {segment_name or 'none chosen'}",
        f"**Message:** {cui.TYPE_LABELS.get(draft.message_type, draft.message_type)}",
        f"**Rate:** {draft.rate_limit:,} message{'' if draft.rate_limit == 1 else 's'} per second",
    ]
    if estimate is not None:
        lines.insert(
            2,
            f"**Recipients:** {estimate.recipients:,} of {estimate.members:,} segment members"
            + (
                f" (left out: {_left_out(estimate.excluded)})"
                if any(estimate.excluded.values())
                else ""
            ),
        )
        if estimate.recipients:
            seconds = estimate.recipients / max(1, draft.rate_limit)
            lines.append(f"**Sending takes:** about {cui.duration(seconds)} at this rate")
    if draft.send_mode == "later" and draft.send_date is not None:
        when = f"{draft.send_date:%a %Y-%m-%d} {draft.send_time:%H:%M} {draft.timezone}"
        lines.append(f"**Starts:** {when}")
    else:
        lines.append("**Starts:** as soon as you press Send now")
    if draft.expires and draft.expiry_date is not None:
        lines.append(
            f"**Expires:** {draft.expiry_date:%Y-%m-%d} {draft.expiry_time:%H:%M} {draft.timezone}"
        )
    st.markdown("  \n".join(lines))


def _left_out(excluded: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {reason.replace('_', ' ')}" for reason, n in excluded.items() if n)


def verdict(check: DraftCheck) -> bool:
    """Show what blocks sending and what to know first; True when something blocks."""
    if not check.valid:
        show_check_errors(check)
        return True
    problems = check.readiness.problems if check.readiness else []
    if problems:
        lines = "\n".join(f"- {p}" for p in problems)
        st.error(f"**This campaign cannot be sent yet:**\n{lines}", icon=":material/block:")
    warnings = check.readiness.warnings if check.readiness else []
    for warning in warnings:
        st.warning(warning, icon=":material/warning:")
    if not problems and not warnings:
        st.success("Ready to send: no problems and nothing to warn about.", icon=":material/check:")
    return bool(problems)


# --- test send and saved message ---------------------------------------------------------------


def store(siaran: Siaran, actor: Actor, draft: Draft) -> Campaign:
    """Save the draft now (a new one, or the one being edited) and remember where it is."""
    with siaran.uow.begin() as session:
        campaign = save_draft(session, actor, draft.campaign_fields(), campaign_id=_id(draft))
    state.remember_stored(campaign.id)
    draft.status = campaign.status
    return campaign


def _id(draft: Draft) -> uuid.UUID | None:
    return uuid.UUID(draft.campaign_id) if draft.campaign_id else None


def test_send(siaran: Siaran, actor: Actor, draft: Draft) -> None:
    st.markdown("**Send a test**")
    with st.form("cb_test_form"):
        number = st.text_input(
            "Phone number", key="cb_w_test_phone", placeholder="+62 812 3456 7890"
        )
        sent = st.form_submit_button(
            "Send test message", key="cb_test_send", icon=":material/send:"
        )
    if sent:
        try:
            to = normalize_phone(number, siaran.settings.default_region)
            campaign = store(siaran, actor, draft)
            with siaran.uow.begin() as session:
                result = send_test_message(
                    session, actor, siaran.secrets, campaign.id, to,
                    region=siaran.settings.default_region,
                )  # fmt: skip
        except SiaranError as exc:
            st.session_state[TEST_RESULT_KEY] = ("error", f"The test was not sent: {exc.message}")
        else:
            st.session_state[TEST_RESULT_KEY] = (
                "success",
                f"Test message sent to {ui.phone(actor, to)}: WhatsApp accepted it (message id "
                f"{result.wamid}). The draft was saved so the test matches it.",
            )
    found = st.session_state.get(TEST_RESULT_KEY)
    if found:
        getattr(st, found[0])(found[1])
    else:
        st.caption("The message is personalized with that contact's values when they are known.")


def save_message(siaran: Siaran, actor: Actor, draft: Draft) -> None:
    st.markdown("**Save the message for later campaigns**")
    with st.form("cb_saved_form"):
        name = st.text_input("Name", key="cb_w_saved_name", max_chars=200, placeholder=draft.name)
        saved = st.form_submit_button(
            "Save as reusable message", key="cb_saved_save", icon=":material/bookmark_add:"
        )
    if not saved:
        return
    try:
        fields = draft.campaign_fields()
        with siaran.uow.begin() as session:
            message = create_saved_message(
                session,
                actor,
                {
                    "name": name.strip() or draft.name,
                    "message_type": fields["message_type"],
                    "content": fields["message_content"],
                    "whatsapp_template_id": fields["whatsapp_template_id"],
                    "variables": fields["template_variables"],
                },
            )
    except SiaranError as exc:
        st.error(exc.message, icon=":material/error:")
    else:
        st.success(
            f"Saved as '{message.name}': start a campaign from it in step 2.",
            icon=":material/bookmark_added:",
        )


# --- the end of the wizard -------------------------------------------------------------------


def finish_buttons(
    siaran: Siaran, actor: Actor, draft: Draft, check: DraftCheck, blocked: bool
) -> None:
    with st.container(horizontal=True):
        save = st.button("Save as draft", key="cb_save_draft", icon=":material/save:")
        if draft.send_mode == "later":
            go = st.button(
                "Schedule", key="cb_schedule", type="primary", disabled=blocked,
                icon=":material/schedule_send:",
            )  # fmt: skip
        else:
            go = st.button(
                "Send now", key="cb_send_now", type="primary", disabled=blocked,
                icon=":material/send:",
            )  # fmt: skip
    if blocked:
        st.caption("Fix what is listed above to schedule or send; you can save the draft now.")
    if save:
        save_as_draft(siaran, actor, draft)
    if go and draft.send_mode == "later":
        schedule(siaran, actor, draft)
    elif go:
        st.session_state[CONFIRM_SEND_KEY] = True
    if draft.send_mode == "now" and st.session_state.get(CONFIRM_SEND_KEY) and not blocked:
        confirm_send(siaran, actor, draft, check)


def save_as_draft(siaran: Siaran, actor: Actor, draft: Draft) -> None:
    try:
        store(siaran, actor, draft)
    except SiaranError as exc:
        st.error(exc.message, icon=":material/error:")
    else:
        st.success(
            f"Draft '{draft.name}' saved. It is on the Campaigns page; keep editing here or "
            "come back to it later.",
            icon=":material/save:",
        )


def confirm_send(siaran: Siaran, actor: Actor, draft: Draft, check: DraftCheck) -> None:
    estimate = check.readiness.estimate if check.readiness else None
    who = f"about {estimate.recipients:,} recipients" if estimate else "the segment"
    st.warning(
        f"Send '{draft.name}' to {who} now? Messages start going out at once.",
        icon=":material/send:",
    )
    with st.container(horizontal=True):
        yes = st.button("Yes, send now", key="cb_send_confirm", type="primary")
        no = st.button("Not yet", key="cb_send_cancel")
    if yes:
        st.session_state.pop(CONFIRM_SEND_KEY, None)
        send_now(siaran, actor, draft)
    elif no:
        st.session_state.pop(CONFIRM_SEND_KEY, None)
        st.rerun()


def schedule(siaran: Siaran, actor: Actor, draft: Draft) -> None:
    assert draft.send_date is not None
    try:
        with siaran.uow.begin() as session:
            campaign = save_draft(session, actor, draft.campaign_fields(), campaign_id=_id(draft))
            campaign = schedule_campaign(
                session, actor, campaign.id, local_date=draft.send_date,
                local_time=draft.send_time, timezone=draft.timezone, settings=siaran.settings,
            )  # fmt: skip
            when = cui.schedule_text(campaign)
    except SiaranError as exc:
        st.error(exc.message, icon=":material/error:")
        return
    done(f"Campaign '{campaign.name}' is scheduled for {when}.")


def send_now(siaran: Siaran, actor: Actor, draft: Draft) -> None:
    try:
        with siaran.uow.begin() as session:
            campaign = save_draft(session, actor, draft.campaign_fields(), campaign_id=_id(draft))
            with st.spinner("Preparing every recipient's message …"):
                report = launch_campaign(session, actor, campaign.id, settings=siaran.settings)
    except SiaranError as exc:
        st.error(exc.message, icon=":material/error:")
        return
    message = f"Campaign '{campaign.name}' started: {report.recipients:,} recipients."
    try:
        message += " " + request_send(siaran, campaign.id).detail
    except SiaranError as exc:
        message += f" No sender could be started yet: {exc.message}"
    done(message, *report.warnings)


def done(message: str, *warnings: str) -> None:
    """Leave the wizard for the Campaigns page, which shows what happened."""
    state.reset()
    notes = [("success", message), *(("warning", w) for w in warnings)]
    st.session_state.setdefault(cui.FLASH_KEY, []).extend(notes)
    st.switch_page(cui.page_spec("campaigns.py").page())
