"""Home: how much CRM data and campaign work there is, and (for owners) what changed lately."""

from __future__ import annotations

import streamlit as st

from app import auth, ui
from core import audit, stats
from core.permissions import Permission

RECENT_AUDIT_ENTRIES = 10

actor = auth.signed_in_actor()
ui.page_header("Home", f"Welcome, {actor.full_name or actor.email}.")

with auth.get_siaran().uow.session() as session:
    counts = stats.dashboard_counts(session, actor)
    show_audit = actor.can(Permission.AUDIT_READ)
    recent = (
        audit.recent(session, actor, limit=RECENT_AUDIT_ENTRIES, include_sign_ins=False)
        if show_audit
        else []
    )
    activity = [
        {
            "When": ui.local_time(entry.created_at),
            "Who": entry.actor_email,
            "Role": entry.actor_role,
            "Action": entry.action,
            "Target": f"{entry.target_type} {entry.target_id or ''}".strip(),
        }
        for entry in recent
    ]

st.subheader("Customers")
columns = st.columns(3)
columns[0].metric("Contacts", f"{counts.contacts:,}", border=True)
columns[1].metric("Labels", f"{counts.labels:,}", border=True)
columns[2].metric("Conversations", f"{counts.conversations:,}", border=True)
if counts.contacts == 0:
    ui.empty_state(
        "No contacts yet.",
        "Import your customers from a CSV file with `siaran import contacts FILE`, "
        "or load demo customers with `siaran demo seed`.",
    )

st.subheader("Segments and campaigns")
columns = st.columns(2)
columns[0].metric("Segments", f"{counts.segments:,}", border=True)
columns[1].metric("Campaigns", f"{counts.campaigns:,}", border=True)
if counts.campaigns:
    by_status = st.columns(len(counts.campaigns_by_status))
    for column, (status, count) in zip(by_status, counts.campaigns_by_status.items(), strict=True):
        column.metric(status.title(), f"{count:,}")
else:
    ui.empty_state(
        "No campaigns yet.",
        "Campaigns send a WhatsApp message to the customers of a segment.",
    )

if show_audit:
    st.subheader("Recent activity")
    if activity:
        st.dataframe(activity, hide_index=True)
        st.caption("The full history is on the Audit log page.")
    else:
        ui.empty_state("Nothing has been recorded yet.", "Every change anyone makes shows up here.")
