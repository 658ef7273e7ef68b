"""Audit log: who did what, when and in which role; for owners."""

from __future__ import annotations

import streamlit as st

from app import auth, ui
from core import audit

LIMITS = (100, 500, 1000)

actor = auth.signed_in_actor()
ui.page_header("Audit log", "Every change made through Siaran, newest first.")

type_column, id_column, limit_column = st.columns([2, 3, 1])
target_type = type_column.text_input(
    "Target type", key="audit_target_type", placeholder="e.g. profile, campaign"
)
target_id = id_column.text_input("Target id", key="audit_target_id")
limit = limit_column.selectbox("Show", LIMITS, key="audit_limit")

with auth.get_siaran().uow.session() as session:
    entries = audit.recent(
        session,
        actor,
        target_type=target_type.strip() or None,
        target_id=target_id.strip() or None,
        limit=limit,
    )
    rows = [
        {
            "When": ui.local_time(entry.created_at),
            "Who": entry.actor_email,
            "Role": entry.actor_role,
            "Action": entry.action,
            "Target type": entry.target_type,
            "Target id": entry.target_id or "",
            "Details": ui.cell(entry.details) if entry.details else "",
        }
        for entry in entries
    ]

if rows:
    st.caption(
        f"The latest {len(rows):,} entries" if len(rows) == limit else f"{len(rows):,} entries"
    )
    st.dataframe(rows, hide_index=True)
elif target_type.strip() or target_id.strip():
    ui.empty_state("No entries for this target.", "Clear the filters to see everything.")
else:
    ui.empty_state("Nothing has been recorded yet.", "Every change anyone makes shows up here.")
