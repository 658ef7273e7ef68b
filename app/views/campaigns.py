"""Campaigns: every campaign with its status, live progress, schedule and what can be done next.

Owners pause, resume, cancel, unschedule, edit, duplicate and delete campaigns here (each
only where its status allows; cancel and delete ask first). Supervisors see the same list
read-only. Running and paused campaigns refresh their progress every few seconds without
rerunning the page, and Siaran's notifications (a campaign started, ended, was paused) are
shown on top.
"""

from __future__ import annotations

import uuid

import streamlit as st

from app import auth, ui
from app import campaign_ui as cui
from app.wizard import state as wizard
from core.campaign_drafts import duplicate_campaign, segment_choices
from core.campaign_progress import campaign_progress
from core.campaigns import (
    cancel_campaign,
    delete_campaign,
    excluded_recipients,
    list_campaigns,
    list_notifications,
    mark_read,
    pause_campaign,
    resume_campaign,
    scheduled_campaigns,
    unschedule_campaign,
)
from core.errors import NotFound, SiaranError
from core.permissions import Permission
from core.sending import request_send
from sql.schema import CAMPAIGN_STATUSES, Campaign
from sql.types import utcnow

REFRESH_SECONDS = 2
PAGE_SIZE = 25
ALL = "All"
CONFIRM_KEY = "campaigns_confirm"  # (action, campaign id) waiting for "yes"
LIMIT_KEY = "campaigns_limit"
ENDED = ("completed", "failed", "cancelled")
LIVE = ("running", "paused")
#: What an owner may do in each status (the core refuses anything else anyway).
OWNER_ACTIONS: dict[str, tuple[str, ...]] = {
    "draft": ("edit", "duplicate", "delete"),
    "scheduled": ("edit", "unschedule", "cancel", "duplicate", "delete"),
    "running": ("pause", "cancel", "duplicate"),
    "paused": ("resume", "cancel", "duplicate"),
    "completed": ("duplicate", "delete"),
    "failed": ("duplicate", "delete"),
    "cancelled": ("duplicate", "delete"),
}
BUTTONS = {
    "pause": ("Pause", ":material/pause:"),
    "resume": ("Resume", ":material/play_arrow:"),
    "cancel": ("Cancel campaign", ":material/cancel:"),
    "unschedule": ("Unschedule", ":material/event_busy:"),
    "duplicate": ("Duplicate", ":material/content_copy:"),
    "delete": ("Delete", ":material/delete:"),
}
CONFIRMATIONS = {
    "cancel": "Cancel campaign '{name}'? Messages not sent yet will never be sent, and a "
    "cancelled campaign cannot be restarted.",
    "delete": "Delete campaign '{name}' with its messages and results? This cannot be undone.",
}
DONE = {
    "pause": "Campaign '{name}' is paused; resume it to continue where it left off.",
    "resume": "Campaign '{name}' is sending again.",
    "cancel": "Campaign '{name}' is cancelled.",
    "unschedule": "Campaign '{name}' is back to draft; it will not start on its own.",
    "delete": "Campaign '{name}' is deleted.",
    "duplicate": "Campaign '{name}' was copied to the draft '{copy}'.",
}

actor = auth.signed_in_actor()
siaran = auth.get_siaran()
can_write = actor.can(Permission.CAMPAIGN_WRITE)
builder = cui.page_spec("campaign_builder.py") if can_write else None
analytics = cui.find_page("campaign_analytics.py")
if analytics is not None and not analytics.visible_to(actor):
    analytics = None


def flash(kind: str, text: str) -> None:
    """A message shown on top of the next run (after an action reruns the page)."""
    st.session_state.setdefault(cui.FLASH_KEY, []).append((kind, text))


def run_action(action: str, campaign_id: uuid.UUID, name: str) -> None:
    """Do ``action`` through the core (a button callback, so it acts on what the owner saw).

    A campaign that changed meanwhile (e.g. completed before the owner's Pause) is refused
    by the core's guarded transition; the refusal is shown on top of the page.
    """
    st.session_state.pop(CONFIRM_KEY, None)
    with ui.friendly_errors():  # callbacks run outside the page's own guard
        _act(action, campaign_id, name)


def _act(action: str, campaign_id: uuid.UUID, name: str) -> None:
    names = {"name": name, "copy": ""}
    try:
        with siaran.uow.begin() as session:
            if action == "pause":
                pause_campaign(session, actor, campaign_id, settings=siaran.settings)
            elif action == "resume":
                resume_campaign(session, actor, campaign_id)
            elif action == "cancel":
                cancel_campaign(session, actor, campaign_id, settings=siaran.settings)
            elif action == "unschedule":
                unschedule_campaign(session, actor, campaign_id)
            elif action == "delete":
                delete_campaign(session, actor, campaign_id)
            elif action == "duplicate":
                names["copy"] = duplicate_campaign(session, actor, campaign_id).name
    except SiaranError as exc:
        flash("error", exc.message)
        return
    flash("success", DONE[action].format(**names))
    if action == "resume":
        try:  # a paused campaign's sender may have ended: make sure one drives it
            request_send(siaran, campaign_id, trigger="resume")
        except SiaranError as exc:
            flash("warning", f"Resumed, but no sender could be started: {exc.message}")


def ask(action: str, campaign_id: uuid.UUID) -> None:
    st.session_state[CONFIRM_KEY] = (action, str(campaign_id))


def keep() -> None:
    st.session_state.pop(CONFIRM_KEY, None)


def new_campaign() -> None:
    wizard.reset()
    st.switch_page(builder.page())  # type: ignore[union-attr]


@st.fragment(run_every=REFRESH_SECONDS)
def live_progress(campaign_id: uuid.UUID, shown_status: str) -> None:
    """Sent / total, rate and ETA of a running or paused campaign, refreshed on its own."""
    with ui.friendly_errors():
        now = utcnow()
        try:
            with siaran.uow.session() as session:
                view = campaign_progress(session, actor, campaign_id, now=now)
        except NotFound:
            st.info("This campaign was deleted.", icon=":material/delete:")
            return
        if view.status != shown_status:
            st.rerun()  # its status (and so its actions) changed: redraw the whole page
        cui.progress_bar(view, now)


def confirm_box(action: str, campaign: Campaign) -> None:
    st.warning(CONFIRMATIONS[action].format(name=campaign.name), icon=":material/warning:")
    with st.container(horizontal=True):
        st.button(
            "Yes, cancel it" if action == "cancel" else "Yes, delete it",
            key=f"confirm_{campaign.id}",
            type="primary",
            on_click=run_action,
            args=(action, campaign.id, campaign.name),
        )
        st.button("No, keep it", key=f"keep_{campaign.id}", on_click=keep)


def actions(campaign: Campaign) -> None:
    pending = st.session_state.get(CONFIRM_KEY)
    if pending and pending[1] == str(campaign.id):
        confirm_box(pending[0], campaign)
        return
    with st.container(horizontal=True):
        for action in OWNER_ACTIONS.get(campaign.status, ()):
            if action == "edit":
                st.page_link(
                    builder.page(),  # type: ignore[union-attr]
                    label="Edit",
                    icon=":material/edit:",
                    query_params={"campaign": str(campaign.id)},
                )
                continue
            label, icon = BUTTONS[action]
            confirm = action in CONFIRMATIONS
            st.button(
                label,
                key=f"{action}_{campaign.id}",
                icon=icon,
                on_click=ask if confirm else run_action,
                args=(action, campaign.id) if confirm else (action, campaign.id, campaign.name),
            )


def exclusions(campaign: Campaign) -> None:
    """Who the launch left out and why: the counts, and the list on request."""
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption(f"Left out at launch: {cui.left_out(campaign)}.")
        shown = st.toggle("Show who", key=f"excluded_{campaign.id}")
    if not shown:
        return
    with siaran.uow.session() as session:
        rows = excluded_recipients(session, actor, campaign.id, limit=None)
    table = [{"Phone": r.phone, "Why": r.reason.replace("_", " "), "Detail": r.detail or ""}
             for r in rows]  # fmt: skip
    st.dataframe(table[:200], hide_index=True, key=f"excluded_table_{campaign.id}")
    st.download_button(
        f"Download all {len(rows):,} (CSV)",
        cui.exclusions_csv(rows),
        file_name=f"left-out-{campaign.name[:40]}.csv".replace(" ", "-"),
        mime="text/csv",
        key=f"excluded_csv_{campaign.id}",
        icon=":material/download:",
    )


def card(campaign: Campaign, segments: dict[uuid.UUID, str]) -> None:
    with st.container(border=True, key=f"campaign_{campaign.id}"):
        st.markdown(f"**{campaign.name}** &nbsp; {cui.status_markdown(campaign.status)}")
        audience = segments.get(campaign.segment_id) if campaign.segment_id else None
        meta = [
            cui.TYPE_LABELS.get(campaign.message_type, campaign.message_type),
            f"to {audience}" if audience else "no segment chosen",
            f"{campaign.rate_limit} msg/s",
            f"created {ui.local_time(campaign.created_at)}",
        ]
        st.caption(" · ".join(meta))
        if campaign.status == "scheduled":
            st.markdown(
                f":material/schedule: Starts **{cui.schedule_text(campaign)}** "
                f"({cui.until(campaign.scheduled_at, utcnow())})"
            )
        if campaign.status_reason:
            (st.warning if campaign.status in ("paused", "draft") else st.caption)(
                f"Why: {campaign.status_reason}"
            )
        if campaign.status in LIVE:
            live_progress(campaign.id, campaign.status)
        elif campaign.status in ENDED and campaign.started_at is not None:
            st.caption(cui.ended_summary(campaign))
        if campaign.started_at is not None and cui.left_out(campaign):
            exclusions(campaign)
        if campaign.started_at is not None and analytics is not None:
            st.page_link(
                analytics.page(),
                label="Results",
                icon=":material/monitoring:",
                query_params={"campaign": str(campaign.id)},
            )
        if can_write:
            actions(campaign)


def read_all() -> None:
    with ui.friendly_errors(), siaran.uow.begin() as session:
        mark_read(session, actor)


def notifications() -> None:
    with siaran.uow.session() as session:
        unread = list_notifications(session, actor, unread_only=True, limit=20)
    if not unread:
        return
    for note in unread[:5]:
        cui.notice(note, ui.local_time(note.created_at))
    with st.container(horizontal=True):
        if len(unread) > 5:
            st.caption(f"and {len(unread) - 5} more")
        st.button(
            "Mark all as read", key="notifications_read", icon=":material/done_all:",
            on_click=read_all,
        )  # fmt: skip


ui.page_header(
    "Campaigns",
    "Your WhatsApp broadcast campaigns, newest first. Running campaigns update live.",
)
for kind, text in st.session_state.pop(cui.FLASH_KEY, []):
    getattr(st, kind)(text)
notifications()
if can_write:
    if st.button("New campaign", key="campaigns_new", icon=":material/add:", type="primary"):
        new_campaign()
else:
    st.caption("Read only: your role can view campaigns but not change them.")

with siaran.uow.session() as session:
    upcoming = scheduled_campaigns(session, actor)
    segments = (
        {s.id: s.name for s in segment_choices(session, actor)}
        if actor.can(Permission.SEGMENT_READ)
        else {}
    )
if upcoming:
    st.subheader("Scheduled")
    now = utcnow()
    st.dataframe(
        [
            {
                "Campaign": c.name,
                "Starts (local time)": cui.schedule_text(c),
                "Timezone": c.timezone,
                "In": cui.until(c.scheduled_at, now),
                "Segment": segments.get(c.segment_id, "") if c.segment_id else "",
            }
            for c in upcoming
        ],
        hide_index=True,
        key="campaigns_scheduled",
    )

st.subheader("All campaigns")
filters = st.columns([2, 3])
status = filters[0].selectbox(
    "Status", [ALL, *CAMPAIGN_STATUSES], key="campaigns_status", format_func=str.title
)
search = filters[1].text_input(
    "Search by name", key="campaigns_search", max_chars=200, placeholder="e.g. promo"
)
limit = int(st.session_state.get(LIMIT_KEY, PAGE_SIZE))
with siaran.uow.session() as session:
    shown = list_campaigns(
        session,
        actor,
        status=None if status == ALL else status,
        search=search.strip() or None,
        limit=limit + 1,
    )
if not shown:
    if status == ALL and not search.strip():
        ui.empty_state(
            "No campaigns yet.",
            "Press New campaign to write your first one." if can_write else None,
        )
    else:
        ui.empty_state("No campaigns match these filters.", "Clear the search or the status.")
    st.stop()

for campaign in shown[:limit]:
    card(campaign, segments)
if len(shown) > limit and st.button("Show more", key="campaigns_more"):
    st.session_state[LIMIT_KEY] = limit + PAGE_SIZE
    st.rerun()
