"""Opt-outs: customers who asked for no more broadcasts, and (owners) opting one back in."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time

import streamlit as st

from app import auth, ui
from core import optouts
from core.permissions import Permission

PAGE_SIZE = 50
PAGE_KEY = "opt_outs_page"
NOTICE_KEY = "opt_outs_notice"
SOURCE_LABELS = {
    optouts.SOURCE_KEYWORD: "Typed a keyword (STOP, BERHENTI…)",
    optouts.SOURCE_BUTTON: "Tapped the stop button",
    optouts.SOURCE_META: "Stopped marketing in WhatsApp",
    optouts.SOURCE_SENDER: "WhatsApp refused: stopped marketing",
}
ANY_SOURCE = "Any source"


def _first_page() -> None:
    st.session_state[PAGE_KEY] = 1


def _day_bounds(chosen: object) -> tuple[datetime | None, datetime | None]:
    """The picked date range as UTC instants (start of the first day, end of the last)."""
    if not isinstance(chosen, tuple | list) or not chosen:
        return None, None
    first = datetime.combine(chosen[0], time.min, UTC)
    last = datetime.combine(chosen[-1], time.max, UTC)
    return first, last


actor = auth.signed_in_actor()
sees_phones = actor.can(Permission.PHONE_UNMASKED)
ui.page_header(
    "Opt-outs",
    "Customers who asked not to receive broadcasts. Every launch leaves them out.",
)
notice = st.session_state.pop(NOTICE_KEY, None)
if notice:
    st.success(notice, icon=":material/check_circle:")

search_column, source_column, date_column = st.columns([3, 2, 2])
search = search_column.text_input(
    "Search by name or phone" if sees_phones else "Search by name",
    key="opt_outs_search",
    max_chars=200,
    on_change=_first_page,
)
source_label = source_column.selectbox(
    "Source", [ANY_SOURCE, *SOURCE_LABELS.values()], key="opt_outs_source", on_change=_first_page
)
dates = date_column.date_input(
    "Opted out between", value=(), key="opt_outs_dates", on_change=_first_page
)
source = next((key for key, label in SOURCE_LABELS.items() if label == source_label), None)
since, until = _day_bounds(dates)

page_number = max(1, int(st.session_state.get(PAGE_KEY, 1)))
with auth.get_siaran().uow.session() as session:
    result = optouts.list_opt_outs(
        session,
        actor,
        search=search,
        source=source,
        since=since,
        until=until,
        limit=PAGE_SIZE,
        offset=(page_number - 1) * PAGE_SIZE,
    )
pages = max(1, math.ceil(result.total / PAGE_SIZE))

if result.total == 0:
    if search.strip() or source or since:
        ui.empty_state("No opt-outs match these filters.", "Clear the search, source or dates.")
    else:
        ui.empty_state(
            "Nobody has opted out.",
            "Customers opt out by replying STOP or BERHENTI, or with the template's stop button.",
        )
else:
    first = result.offset + 1
    st.caption(f"{first:,}–{result.offset + len(result.items):,} of {result.total:,} opted out")
    st.dataframe(
        [
            {
                "Name": item.name,
                "Phone": item.phone,
                "Opted out": ui.local_time(item.opted_out_at),
                "Source": SOURCE_LABELS.get(item.source or "", item.source or ""),
                "Reason": item.reason or "",
            }
            for item in result.items
        ],
        hide_index=True,
    )
    if pages > 1:
        st.pagination(pages, key=PAGE_KEY)
    if not sees_phones:
        st.caption("Phone numbers are masked for your role.")

if actor.can(Permission.OPTOUT_MANAGE) and result.items:
    st.subheader("Opt a customer back in")
    st.caption(
        "Only when the customer asked for broadcasts again (in the store, by phone…). "
        "Your name and the reason go to the audit log."
    )
    choices = {f"{item.name} · {item.phone}": item.contact_id for item in result.items}
    with st.form("opt_in_form", clear_on_submit=True):
        chosen = st.selectbox("Customer", list(choices), key="opt_in_contact")
        reason = st.text_input(
            "Why may they receive broadcasts again?",
            key="opt_in_reason",
            max_chars=optouts.MAX_REASON_LENGTH,
            placeholder="e.g. Asked in the store on 3 March",
        )
        confirmed = st.checkbox(
            "The customer asked me to send them broadcasts again.", key="opt_in_confirmed"
        )
        submitted = st.form_submit_button("Opt back in", icon=":material/how_to_reg:")
    if submitted:
        if not confirmed:
            st.warning("Tick the box to confirm that the customer asked for this.")
        else:
            with auth.get_siaran().uow.begin() as session:
                optouts.opt_in_contact(session, actor, choices[chosen], reason=reason)
            st.session_state[NOTICE_KEY] = (
                f"{chosen.split(' · ')[0]} will receive broadcasts again."
            )
            st.rerun()
