"""WhatsApp account: the connected number, its health, and (owners) connect, test, disconnect.

Actions run in button callbacks, before the page draws, so what it shows is always the state
after the action; their outcome is kept in ``st.session_state`` for this one run.
"""

from __future__ import annotations

import os

import streamlit as st
from pydantic import ValidationError

from app import auth, ui
from app import whatsapp_ui as wa
from core import whatsapp
from core.errors import InvalidInput, SiaranError
from core.permissions import Permission
from core.sandbox_account import simulate_customer_message
from sender.cloud_api import DEFAULT_API_VERSION, DEFAULT_BASE_URL

OUTCOME_KEY = "wa_account_outcome"
FORM_ERRORS_KEY = "wa_connect_errors"
CONFIRM_KEY = "wa_confirm_disconnect"
FIELDS = {
    "name": "Account name",
    "waba_id": "WhatsApp Business Account ID",
    "phone_number_id": "Phone number ID",
    "access_token": "Access token",
    "app_secret": "App secret",
    "verify_token": "Webhook verify token",
    "api_base_url": "API base URL",
    "api_version": "API version",
}
SECRET_FIELDS = ("access_token", "app_secret", "verify_token")
PYDANTIC_MESSAGES = {
    "missing": "required",
    "string_pattern_mismatch": "only letters, digits, '.', '_' and '-' (no spaces)",
}


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"]) or "form"
        message = PYDANTIC_MESSAGES.get(error["type"], error["msg"].removeprefix("Value error, "))
        if error["type"] == "string_too_short" and not str(error.get("input", "")).strip():
            message = "required"
        errors.append({"path": path, "message": message})
    return errors


def _outcome(kind: str, message: str) -> None:
    st.session_state[OUTCOME_KEY] = (kind, message)


def _connect() -> None:
    values = {field: st.session_state.get(f"wa_{field}", "") for field in FIELDS}
    values["is_sandbox"] = st.session_state.get("wa_is_sandbox", False)
    siaran = auth.get_siaran()
    try:
        credentials = whatsapp.AccountCredentials.model_validate(values)
        with siaran.uow.begin() as session:
            account = whatsapp.connect_account(
                session, auth.signed_in_actor(), siaran.secrets, credentials
            )
            number = account.display_phone_number or account.phone_number_id
            name = account.verified_name or account.name
    except ValidationError as exc:
        st.session_state[FORM_ERRORS_KEY] = ("Check these fields:", _field_errors(exc))
        return
    except InvalidInput as exc:
        st.session_state[FORM_ERRORS_KEY] = (exc.message, exc.errors)
        return
    except SiaranError as exc:
        st.session_state[FORM_ERRORS_KEY] = (exc.message, [])
        return
    for field in SECRET_FIELDS:  # never leave secrets sitting in the browser session
        st.session_state[f"wa_{field}"] = ""
    _outcome("success", f"Connected {name} ({number}). Sync its templates in WhatsApp templates.")


def _check() -> None:
    siaran = auth.get_siaran()
    try:
        with siaran.uow.begin() as session:
            account = whatsapp.check_connection(session, auth.signed_in_actor(), siaran.secrets)
            rating = account.quality_rating or "UNKNOWN"
    except SiaranError as exc:
        _outcome("error", f"The connection test failed. {exc.message}")
        return
    _outcome("success", f"The connection works. Quality rating {rating}; details refreshed below.")


def _disconnect() -> None:
    st.session_state[CONFIRM_KEY] = False
    siaran = auth.get_siaran()
    try:
        with siaran.uow.begin() as session:
            whatsapp.disconnect_account(session, auth.signed_in_actor())
    except SiaranError as exc:
        _outcome("error", exc.message)
        return
    _outcome("success", "The WhatsApp account is disconnected; campaigns cannot send until one is.")


def _ask_to_confirm(value: bool) -> None:
    st.session_state[CONFIRM_KEY] = value


def _show_form_errors() -> None:
    if FORM_ERRORS_KEY not in st.session_state:
        return
    message, errors = st.session_state.pop(FORM_ERRORS_KEY)
    lines = [f"- **{FIELDS.get(e['path'], e['path'])}**: {e['message']}" for e in errors]
    st.error("\n".join([message, *lines]), icon=":material/error:")


actor = auth.signed_in_actor()
siaran = auth.get_siaran()
can_manage = actor.can(Permission.ACCOUNT_MANAGE)
ui.page_header("WhatsApp account", "The WhatsApp Business number Siaran sends campaigns from.")

if OUTCOME_KEY in st.session_state:
    kind, message = st.session_state.pop(OUTCOME_KEY)
    (st.success if kind == "success" else st.error)(message)

with siaran.uow.session() as session:
    account = whatsapp.get_account(session, actor)
    summary = whatsapp.account_summary(account, siaran.secrets) if account else None
    connected_at = account.connected_at if account else None
    checked_at = account.last_checked_at if account else None


def customer_message_form() -> None:
    """Sandbox only: write as a customer, to see replies and opt-outs arrive by webhook."""
    st.subheader("Try it as a customer")
    st.caption(
        "The sandbox delivers this as a message from the customer's number, with its signed "
        "webhook, exactly as WhatsApp would: a reply counts for the campaign that reached "
        "them last, and STOP or BERHENTI opts them out."
    )
    with st.form("wa_simulate", clear_on_submit=False):
        left, right = st.columns([2, 3])
        phone = left.text_input("Customer's number", key="wa_sim_phone",
                                placeholder="+62 812 3456 7890")  # fmt: skip
        text = right.text_input("Their message", key="wa_sim_text", max_chars=4096,
                                placeholder="BERHENTI")  # fmt: skip
        sent = st.form_submit_button("Send as the customer", icon=":material/sms:")
    if sent:
        try:
            message_id = simulate_customer_message(siaran, actor, phone, text)
        except SiaranError as exc:
            st.error(exc.message, icon=":material/block:")
        else:
            st.success(
                f"The sandbox delivered it (message id {message_id}); Siaran records it "
                "within seconds.",
                icon=":material/mark_chat_read:",
            )


if summary is None:
    ui.empty_state(
        "No WhatsApp account is connected.",
        "Connect your WhatsApp Business Account below."
        if can_manage
        else "An owner of your business connects it.",
    )
else:
    st.subheader(summary["verified_name"] or summary["name"])
    with st.container(horizontal=True):
        if summary["is_sandbox"]:
            st.badge("Sandbox: messages go nowhere", color="violet", icon=":material/science:")
        else:
            st.badge("Real WhatsApp number", color="blue", icon=":material/verified_user:")
        wa.quality_badge(summary["quality_rating"])
    metrics = st.columns([5, 3, 3])
    metrics[0].metric("Number", summary["display_phone_number"] or "unknown", border=True)
    metrics[1].metric(
        "Throughput",
        f"{summary['throughput_per_second']:,} msg/s",
        help=f"Level {summary['throughput_level'] or 'unknown'}, as WhatsApp reports it.",
        border=True,
    )
    metrics[2].metric(
        "Messaging limit",
        wa.limit_label(summary["messaging_limit_tier"]),
        help=f"{summary['messaging_limit_tier'] or 'unknown'}: how many different customers "
        "business-initiated messages may reach in a rolling 24 hours.",
        border=True,
    )
    st.markdown(
        "\n".join(
            [
                f"- **Account name:** {summary['name']}",
                f"- **WhatsApp Business Account ID:** `{summary['waba_id']}`",
                f"- **Phone number ID:** `{summary['phone_number_id']}`",
                f"- **API:** `{summary['api_base_url']}` version `{summary['api_version']}`",
                f"- **Access token:** `{summary['access_token']}`",
                f"- **Connected:** {ui.local_time(connected_at)}",
                f"- **Last checked:** {ui.local_time(checked_at) or 'never'}",
            ]
        )
    )
    if can_manage:
        with st.container(horizontal=True):
            st.button(
                "Test connection", key="wa_check", icon=":material/network_check:", on_click=_check
            )
            if not st.session_state.get(CONFIRM_KEY):
                st.button(
                    "Disconnect",
                    key="wa_disconnect",
                    icon=":material/link_off:",
                    on_click=_ask_to_confirm,
                    args=(True,),
                )
        if st.session_state.get(CONFIRM_KEY):
            st.warning(
                "Disconnect this number? Campaigns cannot send until an account is connected."
            )
            with st.container(horizontal=True):
                st.button(
                    "Yes, disconnect", key="wa_disconnect_confirm", type="primary",
                    on_click=_disconnect,
                )  # fmt: skip
                st.button(
                    "Cancel", key="wa_disconnect_cancel", on_click=_ask_to_confirm, args=(False,)
                )

if summary is not None and summary["is_sandbox"] and can_manage:
    customer_message_form()

st.subheader("Webhook")
st.markdown(
    "In your Meta app (**WhatsApp › Configuration › Webhook**) enter this callback URL and the "
    "verify token you gave Siaran, then subscribe to the **messages** and "
    "**message_template_status_update** fields:"
)
st.code(whatsapp.webhook_callback_url(siaran.settings), language=None)
if summary is not None:
    st.caption(
        "Verify token: the one entered when connecting "
        f"(it ends in {summary['verify_token_hint'][-4:]})."
    )
st.caption(
    "Meta only calls public HTTPS addresses: behind your own domain or a tunnel, use that "
    "address with the path /webhook."
    + (
        " The sandbox started by `siaran up` sends its webhooks here already."
        if summary is not None and summary["is_sandbox"]
        else ""
    )
)

if can_manage:
    st.subheader("Replace the connected account" if summary else "Connect a WhatsApp account")
    st.caption(
        "Find these in Meta's App Dashboard (WhatsApp › API Setup) and Business Settings "
        "(a system-user access token). Siaran checks them with WhatsApp before saving; the "
        "token, app secret and verify token are stored encrypted."
    )
    sandbox_url = os.environ.get("SIARAN_SANDBOX_URL")
    if summary is None and sandbox_url:
        st.caption(f"Trying Siaran out? The local sandbox runs at {sandbox_url}.")
    with st.form("wa_connect"):
        left, right = st.columns(2)
        left.text_input(FIELDS["name"], value=summary["name"] if summary else "", key="wa_name")
        left.text_input(
            FIELDS["waba_id"], value=summary["waba_id"] if summary else "", key="wa_waba_id"
        )
        left.text_input(
            FIELDS["phone_number_id"],
            value=summary["phone_number_id"] if summary else "",
            key="wa_phone_number_id",
        )
        left.text_input(
            FIELDS["api_base_url"],
            value=summary["api_base_url"] if summary else DEFAULT_BASE_URL,
            key="wa_api_base_url",
        )
        left.text_input(
            FIELDS["api_version"],
            value=summary["api_version"] if summary else DEFAULT_API_VERSION,
            key="wa_api_version",
        )
        right.text_input(FIELDS["access_token"], type="password", key="wa_access_token")
        right.text_input(FIELDS["app_secret"], type="password", key="wa_app_secret")
        right.text_input(
            FIELDS["verify_token"],
            type="password",
            key="wa_verify_token",
            help="Any string of 8+ characters; enter the same one in Meta's webhook settings.",
        )
        right.checkbox(
            "This is the sandbox, not a real number",
            value=bool(summary and summary["is_sandbox"]),
            key="wa_is_sandbox",
        )
        st.form_submit_button(
            "Replace and connect" if summary else "Connect",
            key="wa_connect_submit",
            type="primary",
            icon=":material/link:",
            on_click=_connect,
        )
    _show_form_errors()
