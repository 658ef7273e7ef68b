"""Sign-in page: email and password, checked by the core."""

from __future__ import annotations

import streamlit as st

from app import auth, ui
from core.errors import AuthenticationFailed

_, middle, _ = st.columns([1, 2, 1])
with middle:
    ui.page_header("Siaran", "WhatsApp broadcasts for your shared-inbox customers.")
    notice = auth.pop_notice()
    if notice:
        st.warning(notice, icon=":material/info:")
    with st.form("sign_in"):
        email = st.text_input("Email", key="sign_in_email", autocomplete="username")
        password = st.text_input(
            "Password", key="sign_in_password", type="password", autocomplete="current-password"
        )
        submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
    if submitted:
        try:
            auth.sign_in(email, password)
        except AuthenticationFailed as exc:
            st.error(exc.message, icon=":material/lock:")
        else:
            st.rerun()
    with ui.friendly_errors():
        hint = auth.demo_owner_hint()
        if hint:
            st.caption(hint)
