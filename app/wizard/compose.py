"""Step 2 of the Campaign Builder: the message, with a live preview beside it.

Text, image, document or video (media by link or uploaded to WhatsApp), or an approved
template whose variables are mapped to contact fields (with fallbacks) or fixed values. A
saved message can be the starting point. The preview is the message as the segment's first
member would get it, drawn as a WhatsApp bubble, with the recipients who would miss a value.
"""

from __future__ import annotations

import mimetypes
import uuid
from dataclasses import asdict

import streamlit as st

from app import campaign_ui as cui
from app import ui
from app import whatsapp_ui as wa
from app.wizard import state
from app.wizard.preview import live_preview
from app.wizard.state import MEDIA_TYPES, WIDGET, Draft, bind, memo
from core.bootstrap import Siaran
from core.campaign_drafts import contact_fields
from core.campaigns import list_saved_messages
from core.campaigns.content import placeholders
from core.errors import SiaranError
from core.media import MEDIA_RETENTION_DAYS, UploadedMedia, upload_media
from core.permissions import Actor
from core.templates import TemplateVariable, extract_variables
from core.whatsapp import list_templates
from sender.payloads import MAX_CAPTION, MAX_TEXT_BODY
from sql.schema import WhatsAppTemplate

EXTENSIONS = {
    "image": ["jpg", "jpeg", "png"],
    "video": ["mp4", "3gp"],
    "document": ["pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt"],
}
SOURCES = {"field": "Contact field", "fixed": "Fixed value"}


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def compose(siaran: Siaran, actor: Actor, draft: Draft) -> None:
    editor, preview = st.columns([3, 2], gap="large")
    with editor:
        saved_messages(siaran, actor, draft)
        draft.message_type = st.radio(
            "Message type",
            list(cui.TYPE_LABELS),
            format_func=cui.TYPE_LABELS.__getitem__,
            key=bind("message_type", draft.message_type),
            horizontal=True,
        )
        fields = memo("fields", str(draft.segment_id), lambda: _fields(siaran, actor, draft))
        if draft.message_type == "text":
            text_message(draft, fields)
        elif draft.message_type in MEDIA_TYPES:
            media_message(siaran, actor, draft, fields)
        else:
            template_message(siaran, actor, draft, fields)
    with preview:
        live_preview(siaran, actor, draft)


def _fields(siaran: Siaran, actor: Actor, draft: Draft) -> list[str]:
    segment_id = uuid.UUID(draft.segment_id) if draft.segment_id else None
    with siaran.uow.session() as session:
        return contact_fields(session, actor, segment_id=segment_id)


# --- starting from a saved message ------------------------------------------------------------


def saved_messages(siaran: Siaran, actor: Actor, draft: Draft) -> None:
    with siaran.uow.session() as session:
        saved = {str(m.id): m for m in list_saved_messages(session, actor)}
    if not saved:
        return
    with st.expander("Start from a saved message", icon=":material/bookmarks:"):
        chosen = st.selectbox(
            "Saved message",
            list(saved),
            index=None,
            format_func=lambda i: f"{saved[i].name} ({cui.TYPE_LABELS[saved[i].message_type]})",
            key="cb_saved_choice",
            placeholder="Choose a saved message",
        )
        if st.button("Use this message", key="cb_saved_use", disabled=chosen is None):
            message = saved[chosen]  # type: ignore[index]
            draft.apply_message(
                message.message_type, message.content, message.whatsapp_template_id,
                message.variables,
            )  # fmt: skip
            state.forget_widgets()  # keep the step's other values: they live in the draft
            st.rerun()
        st.caption("It replaces the message below; the audience and schedule stay.")


# --- text and media -----------------------------------------------------------------------


def _field_hint(fields: list[str]) -> None:
    shown = ", ".join(f"`{{{name}}}`" for name in fields[:12])
    more = f" and {len(fields) - 12} more" if len(fields) > 12 else ""
    st.caption(f"Personalize with {shown}{more}: each is replaced by the contact's value.")


def text_message(draft: Draft, fields: list[str]) -> None:
    _field_hint(fields)
    draft.body = st.text_area(
        "Message",
        key=bind("body", draft.body),
        max_chars=MAX_TEXT_BODY,
        height=180,
        placeholder="Halo {name}, promo gajian di toko kami sudah mulai!",
    )
    draft.preview_url = st.checkbox(
        "Show a preview of the first link", key=bind("preview_url", draft.preview_url)
    )
    fallbacks(draft, draft.body, fields)


def media_message(siaran: Siaran, actor: Actor, draft: Draft, fields: list[str]) -> None:
    kind = draft.message_type
    draft.media_source = st.radio(
        "Media",
        ["link", "upload"],
        format_func={"link": "A public link", "upload": "Upload a file"}.__getitem__,
        key=bind("media_source", draft.media_source),
        horizontal=True,
    )
    if draft.media_source == "link":
        draft.link = st.text_input(
            f"Link to the {kind}",
            key=bind("link", draft.link),
            placeholder=f"https://example.com/{'katalog.pdf' if kind == 'document' else kind}",
            help="A public https:// address WhatsApp can download the file from.",
        )
    else:
        upload_panel(siaran, actor, draft)
    draft.caption = st.text_area(
        "Caption (optional)", key=bind("caption", draft.caption), max_chars=MAX_CAPTION, height=100
    )
    if kind == "document":
        draft.filename = st.text_input(
            "File name customers see (optional)",
            key=bind("filename", draft.filename),
            max_chars=240,
            placeholder="katalog.pdf",
        )
    _field_hint(fields)
    fallbacks(draft, draft.caption, fields)


def upload_panel(siaran: Siaran, actor: Actor, draft: Draft) -> None:
    kind = draft.message_type
    if draft.media_id and draft.media_kind == kind:
        st.success(
            f"{draft.media_name or 'The file'} is uploaded (media id {draft.media_id}). "
            f"WhatsApp keeps uploaded files for {MEDIA_RETENTION_DAYS} days: send within that "
            "time, or use a link.",
            icon=":material/cloud_done:",
        )
    elif draft.media_id:
        st.warning(
            f"The uploaded file is {_a(draft.media_kind)}; upload {_a(kind)} for this message.",
            icon=":material/warning:",
        )
    media = upload_file(siaran, actor, kind, f"upload_{kind}")
    if media is not None:
        draft.media_id, draft.media_kind, draft.media_name = media.media_id, kind, media.filename
        st.rerun()


def upload_file(siaran: Siaran, actor: Actor, kind: str, key: str) -> UploadedMedia | None:
    """A file chooser and an upload button; the upload once WhatsApp has the file."""
    upload = st.file_uploader(f"Upload {_a(kind)}", type=EXTENSIONS[kind], key=WIDGET + key)
    if upload is None or not st.button(
        "Upload to WhatsApp", key=f"cb_{key}_send", icon=":material/upload:"
    ):
        return None
    mime = upload.type or mimetypes.guess_type(upload.name)[0] or ""
    try:
        with siaran.uow.begin() as session:
            media = upload_media(
                session, actor, siaran.secrets, upload.getvalue(), mime, filename=upload.name,
                expected_kind=kind,
            )  # fmt: skip
    except SiaranError as exc:
        st.error(exc.message, icon=":material/cloud_off:")
        return None
    return media


def fallbacks(draft: Draft, text: str, fields: list[str]) -> None:
    """A fallback value per ``{field}`` used in ``text``."""
    names = placeholders(text)
    if not names:
        return
    st.markdown("**Fallbacks**")
    st.caption(
        "Used when a contact has no value. Without a fallback, contacts missing the value "
        "are skipped (and counted before you send)."
    )
    for name in names:
        draft.fallbacks[name] = st.text_input(
            f"Fallback for {{{name}}}",
            key=bind(f"fallback_{name}", draft.fallbacks.get(name, "")),
            max_chars=200,
            placeholder="e.g. Kak" if name == "name" else "",
        )
        if name not in fields:
            st.caption(
                f":orange[No contact has a field called `{name}` (checked a sample). "
                "Check the spelling, or give a fallback.]"
            )


# --- templates ---------------------------------------------------------------------------


def template_message(siaran: Siaran, actor: Actor, draft: Draft, fields: list[str]) -> None:
    with siaran.uow.session() as session:
        approved = {str(t.id): t for t in list_templates(session, actor, status="APPROVED")}
    if draft.template_id is not None and draft.template_id not in approved:
        st.warning(
            "The template this message used is no longer approved or was removed from "
            "WhatsApp; choose another.",
            icon=":material/warning:",
        )
        draft.template_id = None
        st.session_state.pop(WIDGET + "template", None)
    if not approved:
        ui.empty_state(
            "There are no approved WhatsApp templates.",
            "Templates are created in WhatsApp Manager and synced on the WhatsApp templates "
            "page; only APPROVED ones can be sent.",
        )
        return
    draft.template_id = st.selectbox(
        "Approved template",
        list(approved),
        index=None,
        format_func=lambda i: (
            f"{approved[i].name} · {approved[i].language} · {approved[i].category.lower()}"
        ),
        key=bind("template", draft.template_id),
        placeholder="Choose a template",
    )
    if draft.template_id is None:
        return
    template = approved[draft.template_id]
    variables = extract_variables(template.components)
    if not variables:
        st.caption("This template has no variables: every customer gets the same message.")
        draft.variables = {}
        return
    st.markdown("**Variables**")
    st.caption(
        "Map each variable to a contact field (with a fallback for contacts without it) or "
        "give it a fixed value."
    )
    draft.variables = {
        v.key: variable_mapping(siaran, actor, draft, template, v, fields) for v in variables
    }


def variable_mapping(
    siaran: Siaran,
    actor: Actor,
    draft: Draft,
    template: WhatsAppTemplate,
    variable: TemplateVariable,
    fields: list[str],
) -> dict[str, str]:
    spec = draft.variables.get(variable.key, {})
    base = f"var_{template.id.hex[:12]}_{variable.key}_"
    label = wa.variable_label(asdict(variable) | {"key": variable.key})
    with st.container(border=True):
        example = f" · WhatsApp's example: `{variable.example}`" if variable.example else ""
        st.markdown(f"**{label}**{example}")
        if variable.kind != "text":
            value = st.text_input(
                f"Link (https://…) or uploaded media id of the {variable.kind}",
                key=bind(base + "link", spec.get("value", "")),
                max_chars=2_000,
            )
            uploaded = upload_file(siaran, actor, variable.kind, base + "upload")
            if uploaded is not None:
                draft.variables[variable.key] = {"source": "fixed", "value": uploaded.media_id}
                st.session_state.pop(WIDGET + base + "link", None)  # primed from the draft
                st.rerun()
            return {"source": "fixed", "value": value}
        source = st.radio(
            "Value from",
            list(SOURCES),
            format_func=SOURCES.__getitem__,
            key=bind(base + "source", spec.get("source", "field")),
            horizontal=True,
        )
        if source == "fixed":
            value = st.text_input(
                "Fixed value",
                key=bind(
                    base + "fixed", spec.get("value", "") if spec.get("source") == "fixed" else ""
                ),
                max_chars=1_000,
                placeholder=variable.example or "",
            )
            return {"source": "fixed", "value": value}
        current = spec.get("value") if spec.get("source", "field") == "field" else None
        options = fields + ([current] if current and current not in fields else [])
        left, right = st.columns(2)
        chosen = left.selectbox(
            "Contact field",
            options,
            index=None,
            key=bind(base + "field", current or None),
            placeholder="Choose a field",
        )
        fallback = right.text_input(
            "Fallback",
            key=bind(base + "fallback", spec.get("fallback", "")),
            max_chars=1_000,
            placeholder="When the contact has none",
        )
        return {"source": "field", "value": chosen or "", "fallback": fallback}
