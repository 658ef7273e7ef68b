"""Campaign builder: four steps from an audience to a campaign on its way.

1 Audience (segment and recipient estimate), 2 Message (type, template variables, media,
live preview), 3 Schedule (now or a local date, time and timezone; rate; expiry),
4 Review & send (warnings, test send, save as draft or reusable message, schedule or send).
The step and the values live in the browser session (``app.wizard.state``), so Back and
Next keep everything; ``?campaign=<id>`` reopens a stored draft or scheduled campaign.
"""

from __future__ import annotations

import uuid

import streamlit as st

from app import auth, ui
from app import campaign_ui as cui
from app.wizard import state
from app.wizard.compose import compose
from app.wizard.preview import compose_errors
from app.wizard.review import review
from app.wizard.state import STEPS, Draft
from app.wizard.steps import audience, audience_errors, schedule, schedule_errors, segments
from core.campaign_drafts import open_draft
from core.errors import SiaranError
from core.permissions import Permission, require

actor = auth.signed_in_actor()
require(actor, Permission.CAMPAIGN_WRITE)  # the navigation hides the page; the core checks too
siaran = auth.get_siaran()


def back_to_campaigns() -> None:
    st.page_link(
        cui.page_spec("campaigns.py").page(),
        label="Back to Campaigns",
        icon=":material/arrow_back:",
    )


def open_requested() -> bool:
    """Load the draft named by ``?campaign=`` (once); False when it cannot be edited."""
    requested = st.query_params.get("campaign")
    if requested and requested != state.loaded_from():
        try:
            campaign_id = uuid.UUID(requested)
        except ValueError:
            st.error(f"{requested!r} is not a campaign id.", icon=":material/link_off:")
            back_to_campaigns()
            return False
        try:
            with siaran.uow.session() as session:
                loaded = Draft.from_campaign(open_draft(session, actor, campaign_id))
        except SiaranError as exc:
            st.error(exc.message, icon=":material/block:")
            back_to_campaigns()
            return False
        state.load(loaded, loaded_from=requested)
    elif not requested and state.draft().campaign_id:
        st.query_params["campaign"] = state.draft().campaign_id  # a reload keeps editing it
    return True


def stepper(current: int, draft: Draft) -> None:
    with st.container(horizontal=True, vertical_alignment="center"):
        for number, title in enumerate(STEPS):
            if number < current:
                st.badge(f"{number + 1}. {title}", color="green", icon=":material/check:")
            elif number == current:
                st.badge(f"{number + 1}. {title}", color="blue", icon=":material/edit:")
            else:
                st.badge(f"{number + 1}. {title}", color="gray")
        if st.button("Start a new campaign", key="cb_start_over", type="tertiary"):
            state.reset()
            st.query_params.clear()
            st.rerun()
    if draft.campaign_id:
        kind = "scheduled campaign" if draft.status == "scheduled" else "draft"
        st.caption(f"Editing the stored {kind} '{draft.name}'.")
        if draft.status == "scheduled":
            st.info(
                "This campaign is scheduled. Scheduling it again moves it; saving it as a draft "
                "unschedules it; sending it now starts it at once.",
                icon=":material/schedule:",
            )


def step_errors(current: int, draft: Draft) -> list[str]:
    if current == 0:
        return audience_errors(draft, segments(siaran, actor))
    if current == 1:
        return compose_errors(siaran, actor, draft)
    if current == 2:
        return schedule_errors(draft)
    return []


def navigation(current: int, draft: Draft) -> None:
    st.divider()
    with st.container(horizontal=True):
        if current > 0 and st.button("Back", key="cb_back", icon=":material/arrow_back:"):
            state.go(current - 1)
            st.rerun()
        if current < len(STEPS) - 1 and st.button(
            "Next", key="cb_next", type="primary", icon=":material/arrow_forward:"
        ):
            errors = step_errors(current, draft)
            if errors:
                lines = "\n".join(f"- {e}" for e in errors)
                st.error(f"Before going on:\n{lines}", icon=":material/error:")
                return
            state.forget_memos("review")  # the review reads the audience afresh each time
            state.go(current + 1)
            st.rerun()


ui.page_header(
    "Campaign builder",
    "Choose who receives it, write the message, pick when, then review and send.",
)
if not open_requested():
    st.stop()
draft = state.draft()
current = state.step()
stepper(current, draft)
st.subheader(f"Step {current + 1} of {len(STEPS)}: {STEPS[current]}")
if current == 0:
    audience(siaran, actor, draft)
elif current == 1:
    compose(siaran, actor, draft)
elif current == 2:
    schedule(siaran, draft)
else:
    choices = segments(siaran, actor)
    chosen = choices.get(draft.segment_id or "")
    review(siaran, actor, draft, chosen.name if chosen else None)
navigation(current, draft)
