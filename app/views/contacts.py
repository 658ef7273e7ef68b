"""Contacts: search customers by name (and phone, for roles that see numbers) and by label."""

from __future__ import annotations

import math

import streamlit as st

from app import auth, ui
from core import contact_search
from core.permissions import Permission

PAGE_SIZES = (25, 50, 100)
PAGE_KEY = "contacts_page"


def _back_to_first_page() -> None:
    st.session_state[PAGE_KEY] = 1


actor = auth.signed_in_actor()
sees_phones = actor.can(Permission.PHONE_UNMASKED)
ui.page_header("Contacts", "The customers of your shared inbox, most recently updated first.")

with auth.get_siaran().uow.session() as session:
    labels = contact_search.list_labels(session, actor)

    search_column, labels_column, size_column = st.columns([3, 3, 1])
    query = search_column.text_input(
        "Search by name or phone" if sees_phones else "Search by name",
        key="contacts_query",
        placeholder="e.g. Siti" + (" or 0812" if sees_phones else ""),
        max_chars=contact_search.MAX_QUERY_LENGTH,
        on_change=_back_to_first_page,
    )
    chosen = labels_column.multiselect(
        "Labels",
        [label.name for label in labels],
        key="contacts_labels",
        on_change=_back_to_first_page,
        placeholder="Any label",
    )
    page_size = size_column.selectbox(
        "Per page", PAGE_SIZES, index=1, key="contacts_page_size", on_change=_back_to_first_page
    )
    match_all = False
    if len(chosen) > 1:
        match_all = st.toggle(
            "Only contacts with all of these labels",
            key="contacts_match_all",
            on_change=_back_to_first_page,
        )

    page_number = max(1, int(st.session_state.get(PAGE_KEY, 1)))
    result = contact_search.search_contacts(
        session,
        actor,
        query=query,
        labels=chosen,
        match_all_labels=match_all,
        limit=page_size,
        offset=(page_number - 1) * page_size,
    )
    pages = max(1, math.ceil(result.total / page_size))
    if page_number > pages:
        # The data shrank under a stale page number: show the last page instead.
        page_number = pages
        st.session_state[PAGE_KEY] = pages
        result = contact_search.search_contacts(
            session,
            actor,
            query=query,
            labels=chosen,
            match_all_labels=match_all,
            limit=page_size,
            offset=(pages - 1) * page_size,
        )

filtering = bool(query.strip() or chosen)
if result.total == 0:
    if filtering:
        ui.empty_state("No contacts match these filters.", "Clear the search or the labels.")
    else:
        ui.empty_state(
            "No contacts yet.",
            "Import customers with `siaran import contacts FILE`, or load demo customers "
            "with `siaran demo seed`.",
        )
else:
    first = result.offset + 1
    last = result.offset + len(result.items)
    st.caption(f"{first:,}–{last:,} of {result.total:,} contacts")
    field_names = sorted({key for c in result.items for key in c.custom_fields})
    rows = [
        {
            "Name": contact.name,
            "Phone": contact.phone,
            "Labels": ", ".join(contact.labels),
            **{name: ui.cell(contact.custom_fields.get(name)) for name in field_names},
            "Updated": ui.local_time(contact.updated_at),
        }
        for contact in result.items
    ]
    st.dataframe(rows, hide_index=True)
    if pages > 1:
        st.pagination(pages, key=PAGE_KEY)
    if not sees_phones:
        st.caption("Phone numbers are masked for your role.")
