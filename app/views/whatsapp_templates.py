"""WhatsApp templates: the account's templates with their status, a sync, and a live preview.

Templates are created and approved in WhatsApp Manager; Siaran syncs them (owners) and
shows each one with its components and a preview filled with Meta's examples or your values.
"""

from __future__ import annotations

import uuid
from collections import Counter

import streamlit as st

from app import auth, navigation, ui
from app import whatsapp_ui as wa
from core import whatsapp
from core.errors import InvalidInput, SiaranError
from core.permissions import Permission

ALL = "All"
REPORT_KEY = "templates_sync_report"

actor = auth.signed_in_actor()
siaran = auth.get_siaran()
can_sync = actor.can(Permission.TEMPLATE_WRITE)
ui.page_header(
    "WhatsApp templates",
    "The message templates of your WhatsApp Business Account. Campaigns to customers who have "
    "not written in the last 24 hours can only send APPROVED templates.",
)

with siaran.uow.session() as session:
    account = whatsapp.get_account(session, actor) if actor.can(Permission.ACCOUNT_READ) else None

top = st.columns([3, 2], vertical_alignment="center")
top[0].link_button(
    "Create or edit templates in WhatsApp Manager",
    whatsapp.MANAGER_URL,
    icon=":material/open_in_new:",
    help="WhatsApp reviews new templates (usually within minutes); then sync them here.",
)
if account is None:
    hint = (
        "Connect one in WhatsApp account, then sync its templates here."
        if can_sync
        else "An owner connects one and syncs its templates."
    )
    ui.empty_state("No WhatsApp account is connected.", hint)
    visible = navigation.visible_pages(actor)
    account_page = next((s for s in visible if s.script == "whatsapp_account.py"), None)
    if account_page is not None:
        st.page_link(account_page.page(), label="Open WhatsApp account", icon=account_page.icon)
elif can_sync:
    if top[1].button(
        "Sync templates", key="templates_sync", icon=":material/sync:", type="primary"
    ):
        with st.status("Syncing templates from WhatsApp …", expanded=True) as progress:
            st.write(f"Reading every page of templates of WABA {account.waba_id} …")
            try:
                with siaran.uow.begin() as session:
                    report = whatsapp.sync_templates(session, actor, siaran.secrets)
            except SiaranError as exc:
                progress.update(label="Sync failed", state="error", expanded=True)
                st.error(exc.message, icon=":material/sync_problem:")
            else:
                progress.update(label="Templates synced", state="complete", expanded=False)
                st.session_state[REPORT_KEY] = str(report)
    if REPORT_KEY in st.session_state:
        st.success(st.session_state[REPORT_KEY], icon=":material/check_circle:")

with siaran.uow.session() as session:
    everything = whatsapp.list_templates(session, actor, include_removed=True)
    languages = sorted({t.language for t in everything})
    filters = st.columns([2, 2, 2, 3])
    status = filters[0].selectbox(
        "Status", [ALL, *whatsapp.TEMPLATE_STATUSES], key="templates_status"
    )
    category = filters[1].selectbox(
        "Category", [ALL, *whatsapp.TEMPLATE_CATEGORIES], key="templates_category"
    )
    language = filters[2].selectbox("Language", [ALL, *languages], key="templates_language")
    search = filters[3].text_input(
        "Search by name", key="templates_search", max_chars=200, placeholder="e.g. promo"
    )
    include_removed = st.toggle(
        "Include templates no longer on WhatsApp", key="templates_include_removed"
    )
    templates = whatsapp.list_templates(
        session,
        actor,
        status=None if status == ALL else status,
        category=None if category == ALL else category,
        language=None if language == ALL else language,
        search=search.strip() or None,
        include_removed=include_removed,
    )
    # Plain copies: the detail below outlives the session.
    shown = [
        {
            "id": str(t.id),
            "name": t.name,
            "language": t.language,
            "category": t.category,
            "status": t.status,
            "parameter_format": t.parameter_format,
            "components": t.components,
            "variables": t.variables,
            "rejected_reason": t.rejected_reason,
            "quality_score": t.quality_score,
            "last_synced_at": t.last_synced_at,
            "removed_at": t.removed_at,
        }
        for t in templates
    ]

if not everything:
    if account is not None:
        ui.empty_state(
            "No templates yet.",
            "Sync them from WhatsApp with the button above."
            if can_sync
            else "An owner syncs them.",
        )
    st.stop()

counts = Counter(t.status for t in everything if t.removed_at is None)
st.markdown(
    " ".join(
        f":{wa.status_color(s)}-badge[{counts[s]} {s.lower().replace('_', ' ')}]"
        for s in whatsapp.TEMPLATE_STATUSES
        if counts[s]
    )
)
synced = max((t.last_synced_at for t in everything if t.last_synced_at), default=None)
if synced is not None:
    st.caption(f"Last synced {ui.local_time(synced)}.")

if not shown:
    ui.empty_state("No templates match these filters.", "Clear the search or the filters.")
    st.stop()

st.caption(f"{len(shown):,} of {len(everything):,} templates")
st.dataframe(
    [
        {
            "Status": [t["status"]],
            "Name": t["name"],
            "Language": t["language"],
            "Category": t["category"],
            "Variables": len(t["variables"]),
            "Quality": t["quality_score"] or "",
            "Last synced": ui.local_time(t["last_synced_at"]),
            "Removed": ui.local_time(t["removed_at"]),
        }
        for t in shown
    ],
    hide_index=True,
    column_config={"Status": wa.status_column()},
)

by_id = {t["id"]: t for t in shown}
chosen = st.selectbox(
    "Template",
    list(by_id),
    index=None,
    format_func=lambda i: f"{by_id[i]['name']} · {by_id[i]['language']} · {by_id[i]['status']}",
    key="templates_selected",
    placeholder="Choose a template to see its content and preview it",
)
if chosen is None:
    st.stop()

template = by_id[chosen]
st.subheader(template["name"])
with st.container(horizontal=True):
    wa.status_badge(template["status"])
    st.badge(template["category"] or "no category", color="violet")
    st.badge(template["language"], color="gray", icon=":material/translate:")
    st.badge(template["parameter_format"].lower() + " variables", color="gray")
if template["removed_at"] is not None:
    st.warning(
        "This template is no longer on WhatsApp "
        f"(noticed {ui.local_time(template['removed_at'])}).",
        icon=":material/delete:",
    )
elif template["status"] != "APPROVED":
    st.info(
        f"{template['status']}: {wa.STATUS_MEANINGS.get(template['status'], '')}."
        + (f" Reason: {template['rejected_reason']}." if template["rejected_reason"] else ""),
        icon=":material/info:",
    )

content, preview = st.columns(2, gap="large")
with content:
    st.markdown("**Components**")
    for component in template["components"]:
        kind = str(component.get("type", "")).upper()
        if kind == "BUTTONS":
            st.caption("Buttons")
            for button in component.get("buttons", []):
                target = button.get("url") or button.get("phone_number") or ""
                target = f"`{target}`" if target else ""
                st.markdown(f"- {button.get('type', '')}: **{button.get('text', '')}** {target}")
            continue
        fmt = str(component.get("format", "")).upper()
        st.caption(kind.title() + (f" ({fmt.lower()})" if fmt and fmt != "TEXT" else ""))
        if component.get("text"):
            st.code(component["text"], language=None, wrap_lines=True)
    with st.expander("As WhatsApp holds it (JSON)"):
        st.json(template["components"])

with preview:
    st.markdown("**Preview**")
    variables = template["variables"]
    values: dict[str, str] = {}
    if variables:
        with st.form(f"preview_{chosen}"):
            for variable in variables:
                values[variable["key"]] = st.text_input(
                    wa.variable_label(variable),
                    value=variable.get("example") or "",
                    key=f"preview_{chosen}_{variable['key']}",
                    help=f"Variable {variable['key']}; prefilled with WhatsApp's example.",
                )
            st.form_submit_button(
                "Preview", key="templates_preview_submit", icon=":material/visibility:"
            )
    else:
        st.caption("This template has no variables: every customer gets the same message.")
    try:
        with siaran.uow.session() as session:
            _, rendered, _ = whatsapp.preview_template(session, actor, uuid.UUID(chosen), values)
    except InvalidInput as exc:
        labels = {v["key"]: f" ({wa.variable_label(v)})" for v in variables}
        lines = [f"- `{e['path']}`{labels.get(e['path'], '')}: {e['message']}" for e in exc.errors]
        st.error(
            "WhatsApp would refuse these values:\n" + "\n".join(lines),
            icon=":material/error:",
        )
    else:
        st.html(wa.bubble_html(rendered))
