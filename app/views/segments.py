"""Segments: who a broadcast reaches. List, open, build, preview, refresh and delete them.

Everyone with ``segment:read`` sees the list with its statistics and opens a segment (its
conditions in words, a live preview, the stored members, who entered and left). Owners
also create and edit segments with the condition builder (never JSON) while the preview
follows every change, refresh them (through Dagster when it runs, else right here), re-freeze
static ones and delete them, which the core refuses while a campaign still needs it.
"""

from __future__ import annotations

import math
import time
import uuid
from datetime import datetime

import streamlit as st
from sqlalchemy.orm import Session

from app import auth, ui
from app import segment_builder as builder
from app import segment_panels as panels
from core.contact_search import list_labels
from core.custom_fields import discover_custom_fields
from core.errors import InvalidInput, SiaranError
from core.permissions import Permission
from core.segment_members import list_members
from core.segment_refresh import request_segment_refresh
from core.segments import (
    SegmentSummary,
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    membership_history,
    preview_criteria,
    preview_segment,
    resnapshot_segment,
    update_segment,
)

MODE_KEY = "segments_mode"  # "edit" while the builder is open
EDITING_KEY = "segments_editing"  # the segment being edited, None for a new one
OPTIONS_KEY = "segments_options"
OPEN_KEY = "segments_open"
NOTICE_KEY = "segments_notice"
ERROR_KEY = "segments_error"
SAVE_ERRORS_KEY = "segments_save_errors"
CONFIRM_KEY = "segments_confirm_delete"
WAITING_KEY = "segments_waiting"  # (segment id, last_refreshed_at before, asked at)
MEMBERS_PAGE_KEY = "segments_members_page"
MEMBERS_PAGE_SIZE = 50
WAIT_SECONDS = 300
KINDS = {
    "dynamic": "Dynamic: follows the data",
    "static": "Static: members frozen when saved",
}

actor = auth.signed_in_actor()
siaran = auth.get_siaran()
can_write = actor.can(Permission.SEGMENT_WRITE)


# --- actions (callbacks run before the page is drawn) -----------------------------------------


def _open_editor(summary: SegmentSummary | None) -> None:
    with siaran.uow.session() as session:
        labels = [label.name for label in list_labels(session, actor)]
        fields = discover_custom_fields(session, actor).fields
    st.session_state[OPTIONS_KEY] = builder.Options(labels=labels, fields=fields)
    st.session_state[EDITING_KEY] = summary.id if summary else None
    st.session_state["segment_name"] = summary.name if summary else ""
    st.session_state["segment_description"] = (summary.description or "") if summary else ""
    st.session_state["segment_kind"] = summary.kind if summary else "dynamic"
    builder.start(summary.criteria if summary else None)
    st.session_state.pop(SAVE_ERRORS_KEY, None)
    st.session_state[MODE_KEY] = "edit"


def _close_editor() -> None:
    st.session_state[MODE_KEY] = "list"
    st.session_state.pop(SAVE_ERRORS_KEY, None)


def _save() -> None:
    editing: uuid.UUID | None = st.session_state.get(EDITING_KEY)
    fields = {
        "name": st.session_state.get("segment_name", ""),
        "description": st.session_state.get("segment_description", ""),
        "kind": st.session_state.get("segment_kind", "dynamic"),
        "criteria": builder.criteria(),
    }
    try:
        with siaran.uow.begin() as session:
            if editing is None:
                saved = create_segment(session, actor, **fields)
            else:
                saved = update_segment(session, actor, editing, **fields)
    except InvalidInput as exc:
        st.session_state[SAVE_ERRORS_KEY] = _error_lines(exc)
        return
    except SiaranError as exc:
        st.session_state[SAVE_ERRORS_KEY] = [exc.message]
        return
    verb = "created" if editing is None else "saved"
    st.session_state[NOTICE_KEY] = (
        f'Segment "{saved.name}" {verb}: {saved.contact_count:,} members, '
        f"{saved.reachable_count:,} reachable."
    )
    st.session_state[OPEN_KEY] = str(saved.id)
    _close_editor()


def _error_lines(exc: InvalidInput) -> list[str]:
    if not exc.errors:
        return [exc.message]
    return [
        f"{builder.describe_path(str(error.get('path', '')))} — {error.get('message')}"
        if error.get("path") not in ("name", "description", "kind")
        else f"{str(error['path']).capitalize()}: {error.get('message')}"
        for error in exc.errors
    ]


def _delete(segment_id: uuid.UUID) -> None:
    st.session_state.pop(CONFIRM_KEY, None)
    try:
        with siaran.uow.begin() as session:
            deleted = delete_segment(session, actor, segment_id)
    except SiaranError as exc:
        st.session_state[ERROR_KEY] = exc.message
        return
    detached = deleted.detached_campaigns
    note = f" Campaigns that named it now name none: {', '.join(detached)}." if detached else ""
    st.session_state[NOTICE_KEY] = f'Segment "{deleted.name}" deleted.{note}'
    st.session_state[OPEN_KEY] = None


def _refreeze(segment_id: uuid.UUID) -> None:
    try:
        with siaran.uow.begin() as session:
            result = resnapshot_segment(session, actor, segment_id)
    except SiaranError as exc:
        st.session_state[ERROR_KEY] = exc.message
        return
    st.session_state[NOTICE_KEY] = (
        f"Members taken again: {result.members:,} ({result.entered:,} entered, "
        f"{result.left:,} left)."
    )


def _ask_delete(segment_id: uuid.UUID) -> None:
    st.session_state[CONFIRM_KEY] = segment_id
    st.session_state.pop(ERROR_KEY, None)


def _cancel_delete() -> None:
    st.session_state.pop(CONFIRM_KEY, None)


# --- the editor -------------------------------------------------------------------------------


def editor() -> None:
    editing = st.session_state.get(EDITING_KEY)
    st.subheader("New segment" if editing is None else "Edit segment")
    name_column, kind_column = st.columns([3, 2])
    name_column.text_input("Name", key="segment_name", max_chars=200)
    kind_column.radio("Kind", list(KINDS), format_func=KINDS.get, key="segment_kind")
    st.text_area("Description (optional)", key="segment_description", max_chars=2000, height=68)
    st.markdown("**Conditions**")
    builder.render(st.session_state.get(OPTIONS_KEY) or builder.Options())
    st.subheader("Live preview")
    try:
        with siaran.uow.session() as session:
            preview = preview_criteria(session, actor, builder.criteria())
    except InvalidInput as exc:
        st.warning(
            "Finish the conditions to see who they reach:\n\n"
            + "\n".join(f"- {line}" for line in _error_lines(exc)),
            icon=":material/edit_note:",
        )
    else:
        panels.preview_panel(preview, key="segments_editor_preview")
    for line in st.session_state.get(SAVE_ERRORS_KEY, []):
        st.error(line, icon=":material/error:")
    save, cancel, _ = st.columns([1, 1, 3])
    save.button("Save segment", type="primary", key="segments_save", on_click=_save,
                icon=":material/save:")  # fmt: skip
    cancel.button("Cancel", key="segments_cancel", on_click=_close_editor)


# --- the list and one segment -----------------------------------------------------------------


def overview() -> None:
    with siaran.uow.session() as session:
        segments = list_segments(session, actor)
    if can_write:
        st.button("New segment", key="segments_new", on_click=_open_editor, args=(None,),
                  icon=":material/add:")  # fmt: skip
    if not segments:
        hint = "Create one with **New segment**." if can_write else "An owner creates them."
        ui.empty_state("No segments yet.", hint)
        return
    st.dataframe(
        [
            {
                "Name": s.name,
                "Kind": s.kind,
                "Members": s.contact_count,
                "Reachable": s.reachable_count,
                "Opted out": s.contact_count - s.reachable_count,
                "Last refreshed": ui.local_time(s.last_refreshed_at),
                "Campaigns": s.campaign_count,
                "Active campaigns": ", ".join(s.active_campaigns),
            }
            for s in segments
        ],
        hide_index=True,
        key="segments_table",
    )
    by_id = {str(s.id): s for s in segments}
    if st.session_state.get(OPEN_KEY) not in by_id:
        st.session_state[OPEN_KEY] = None  # nothing open (or the open one was deleted)
    chosen = st.selectbox("Open a segment", list(by_id), key=OPEN_KEY,
                          format_func=lambda sid: by_id[sid].name,
                          placeholder="Choose a segment")  # fmt: skip
    if chosen:
        detail(by_id[chosen])


def detail(summary: SegmentSummary) -> None:
    st.subheader(summary.name)
    kind = "Static (members frozen)" if summary.kind == "static" else "Dynamic"
    st.caption(" · ".join(filter(None, [kind, summary.description])))
    st.markdown(panels.describe(summary.criteria))
    panels.segment_metrics(summary)
    if summary.campaign_count:
        names = ", ".join(summary.active_campaigns)
        active = f"; active: {names}" if names else ""
        st.caption(f"Used by {summary.campaign_count} campaign(s){active}.")
    error = st.session_state.pop(ERROR_KEY, None)
    if error:
        st.error(error, icon=":material/block:")
    if can_write:
        actions(summary)
    waiting = st.session_state.get(WAITING_KEY)
    if waiting and waiting[0] == summary.id:
        _wait_for_dagster(summary.id, waiting[1], waiting[2])
    preview_tab, members_tab, history_tab = st.tabs(["Preview", "Members", "History"])
    with siaran.uow.session() as session:
        with preview_tab:
            panels.preview_panel(preview_segment(session, actor, summary.id),
                                 key="segments_saved_preview")  # fmt: skip
        with members_tab:
            members(session, summary)
        with history_tab:
            panels.history_panel(membership_history(session, actor, summary.id))


def actions(summary: SegmentSummary) -> None:
    refresh, edit, refreeze, remove = st.columns(4)
    if refresh.button("Refresh", key="segments_refresh", icon=":material/refresh:"):
        with st.status(f'Refreshing "{summary.name}"…', expanded=True) as status:
            status.write("Recomputing changed contacts and taking the members again…")
            request = request_segment_refresh(siaran, actor, summary.id)
            status.update(label=request.detail, state="complete")
        if request.via == "dagster":
            st.session_state[WAITING_KEY] = (summary.id, summary.last_refreshed_at, time.time())
        st.session_state[NOTICE_KEY] = request.detail
        st.rerun()
    edit.button("Edit", key="segments_edit", on_click=_open_editor, args=(summary,),
                icon=":material/edit:")  # fmt: skip
    if summary.kind == "static":
        refreeze.button("Re-freeze members", key="segments_refreeze", on_click=_refreeze,
                        args=(summary.id,), icon=":material/ac_unit:",
                        help="Take the members again from the conditions, now.")  # fmt: skip
    remove.button("Delete", key="segments_delete", on_click=_ask_delete, args=(summary.id,),
                  icon=":material/delete:")  # fmt: skip
    if st.session_state.get(CONFIRM_KEY) == summary.id:
        st.warning(f'Delete segment "{summary.name}"? Its members and history go with it; '
                   "this cannot be undone.", icon=":material/warning:")  # fmt: skip
        yes, no, _ = st.columns([1, 1, 3])
        yes.button("Yes, delete", key="segments_delete_yes", type="primary", on_click=_delete,
                   args=(summary.id,))  # fmt: skip
        no.button("Keep it", key="segments_delete_no", on_click=_cancel_delete)


@st.fragment(run_every=2)
def _wait_for_dagster(segment_id: uuid.UUID, before: datetime | None, asked: float) -> None:
    """Follow the Dagster run until the segment's counts change (or give up waiting)."""
    with ui.friendly_errors():
        with siaran.uow.session() as session:
            now = get_segment(session, actor, segment_id)
        if now.last_refreshed_at != before:
            st.session_state.pop(WAITING_KEY, None)
            st.rerun(scope="app")
        waited = time.time() - asked
        if waited > WAIT_SECONDS:
            st.session_state.pop(WAITING_KEY, None)
            st.warning("The Dagster run has not finished yet; see it in Dagster's Runs page.")
            return
        st.progress(min(waited / 60, 0.95), text=f"Waiting for Dagster's run… {waited:.0f} s")


def members(session: Session, summary: SegmentSummary) -> None:
    pages = max(1, math.ceil(summary.contact_count / MEMBERS_PAGE_SIZE))
    page_number = min(max(1, int(st.session_state.get(MEMBERS_PAGE_KEY, 1))), pages)
    if MEMBERS_PAGE_KEY in st.session_state:
        st.session_state[MEMBERS_PAGE_KEY] = page_number  # another segment may have fewer pages
    offset = (page_number - 1) * MEMBERS_PAGE_SIZE
    page = list_members(session, actor, summary.id, limit=MEMBERS_PAGE_SIZE, offset=offset)
    panels.members_panel(page)
    if pages > 1:
        st.pagination(pages, key=MEMBERS_PAGE_KEY)


# --- the page -------------------------------------------------------------------------------

ui.page_header(
    "Segments",
    "Groups of customers to send broadcasts to. Dynamic segments follow your CRM data; "
    "static ones keep the members they had when saved.",
)
notice = st.session_state.pop(NOTICE_KEY, None)
if notice:
    st.success(notice, icon=":material/check_circle:")
if st.session_state.get(MODE_KEY) == "edit" and can_write:
    editor()
else:
    overview()
