"""The page for a signed-in actor whose role opens none of the app's pages (an agent)."""

from __future__ import annotations

import streamlit as st

from app import auth, ui
from core.permissions import GRANTS, Permission, Role

actor = auth.signed_in_actor()
# Name the roles that do have access from the permission model, not from a list here.
allowed = [
    f"{role.value}s"
    for role in Role
    if role is not Role.SYSTEM and Permission.CAMPAIGN_READ in GRANTS[role]
]
ui.page_header("No access")
st.warning(
    f"Siaran's campaign features (segments, campaigns, WhatsApp templates and analytics) are "
    f"for {' and '.join(allowed)}. Your role, {actor.role.value}, has no access to them.",
    icon=":material/block:",
)
st.markdown(
    "You keep working with customers in the shared inbox as before. If you need to see "
    "campaigns, ask an owner of your business to change your role."
)
