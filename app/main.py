"""Siaran's Streamlit app: ``streamlit run app/main.py`` (what ``siaran up`` starts).

Reads its configuration (DATABASE_URL, SIARAN_*) from the environment like every entry
point and calls the core directly. Signed out, every address shows the sign-in form (and
the page asked for once signed in); signed in, the navigation is built from the
permission model for the actor's role.
"""

from __future__ import annotations

import streamlit as st

from app import auth, navigation, ui


def main() -> None:
    st.set_page_config(page_title="Siaran", page_icon=":material/campaign:", layout="wide")
    actor = None
    with ui.friendly_errors():
        actor = auth.current_actor()
    if actor is None:
        page = st.navigation(navigation.signed_out_pages(), position="hidden")
    else:
        ui.sidebar_account(actor, on_sign_out=auth.sign_out)
        page = st.navigation(navigation.navigation_for(actor))
    auth.write_session_cookie()
    with ui.friendly_errors():
        page.run()


main()
