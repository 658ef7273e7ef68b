"""How the app draws WhatsApp things: colored status and quality badges, a message bubble.

Shared by the "WhatsApp templates" and "WhatsApp account" pages (and later the campaign
pages, which preview the same rendered templates).
"""

from __future__ import annotations

import html
from typing import Any

import streamlit as st

from core.templates import RenderedTemplate
from sender.models import MESSAGING_LIMITS

STATUS_COLORS = {
    "APPROVED": "green",
    "PENDING": "yellow",
    "IN_APPEAL": "blue",
    "PAUSED": "orange",
    "REJECTED": "red",
    "DISABLED": "gray",
}
QUALITY_COLORS = {"GREEN": "green", "YELLOW": "yellow", "RED": "red"}
STATUS_MEANINGS = {
    "APPROVED": "approved by WhatsApp: campaigns can send it",
    "PENDING": "waiting for WhatsApp's review",
    "IN_APPEAL": "rejected, and an appeal is under review",
    "PAUSED": "paused by WhatsApp for low quality; it cannot be sent for now",
    "REJECTED": "rejected by WhatsApp; edit it in WhatsApp Manager and submit it again",
    "DISABLED": "disabled by WhatsApp for low quality",
}


def status_color(status: str) -> str:
    return STATUS_COLORS.get(status.upper(), "gray")


def status_column() -> Any:
    """A table column drawing each template status as a colored badge (cells hold ``[status]``)."""
    statuses = list(STATUS_COLORS)
    return st.column_config.MultiselectColumn(
        "Status",
        options=statuses,
        color=[STATUS_COLORS[s] for s in statuses],
        help="WhatsApp's review status; choose the template below to see what it means.",
        width="small",
    )


def status_badge(status: str) -> None:
    st.badge(status, color=status_color(status), help=STATUS_MEANINGS.get(status.upper()))


def quality_badge(rating: str | None) -> None:
    value = rating or "UNKNOWN"
    color = QUALITY_COLORS.get(value, "gray")
    st.badge(f"Quality {value}", color=color, icon=":material/verified:")


def limit_label(tier: str | None) -> str:
    """``TIER_2K`` as an owner reads it: how many customers per 24 hours."""
    if not tier:
        return "unknown"
    if tier not in MESSAGING_LIMITS:
        return tier
    limit = MESSAGING_LIMITS[tier]
    return "unlimited" if limit is None else f"{limit:,} / 24 h"


def variable_label(variable: dict[str, Any]) -> str:
    """Where a template variable goes, e.g. ``{{1}} in the body`` or ``Header image``."""
    component = variable["component"]
    if variable.get("kind", "text") != "text":
        return f"Header {variable['kind']} (link or media id)"
    placeholder = "{{" + str(variable["name"]) + "}}"
    if component == "button":
        return f"{placeholder} in button {int(variable['button_index']) + 1}'s link"
    return f"{placeholder} in the {component}"


def _text(value: str) -> str:
    """Escaped for HTML, keeping the message's own line breaks."""
    return html.escape(value).replace("\n", "<br>")


def bubble_html(rendered: RenderedTemplate) -> str:
    """The rendered message drawn like an outgoing WhatsApp bubble (all text escaped)."""
    parts: list[str] = []
    if rendered.header_media:
        kind = rendered.header_media.get("type", "media")
        icon = {"image": "🖼️", "video": "🎬", "document": "📄"}.get(kind, "📎")
        parts.append(
            '<div style="background:#cfe9c6;border-radius:6px;padding:18px 8px;'
            "text-align:center;color:#3b4a54;font-size:0.85em;margin-bottom:6px;"
            'word-break:break-all">'
            f"{icon} {html.escape(kind.title())}<br>{_text(rendered.header_media.get('value', ''))}"
            "</div>"
        )
    if rendered.header:
        parts.append(
            f'<div style="font-weight:600;margin-bottom:4px">{_text(rendered.header)}</div>'
        )
    parts.append(f"<div>{_text(rendered.body)}</div>")
    if rendered.footer:
        parts.append(
            '<div style="color:#667781;font-size:0.8em;margin-top:6px">'
            f"{_text(rendered.footer)}</div>"
        )
    buttons = "".join(
        '<div style="border-top:1px solid #c5dfbd;color:#027eb5;text-align:center;'
        'padding:7px 0;font-size:0.9em" '
        f'title="{html.escape(button.get("url", ""), quote=True)}">'
        f"{'↗ ' if button.get('url') else ''}{_text(button.get('text', ''))}</div>"
        for button in rendered.buttons
    )
    return (
        '<div style="background:#efeae2;padding:14px;border-radius:8px">'
        '<div class="wa-bubble" style="background:#d9fdd3;color:#111b21;max-width:420px;'
        "border-radius:8px;padding:8px 10px 6px;box-shadow:0 1px 0.5px rgba(11,20,26,.13);"
        'font-family:system-ui,sans-serif;font-size:0.95em;line-height:1.35">'
        + "".join(parts)
        + '<div style="text-align:right;color:#667781;font-size:0.7em">now ✓✓</div>'
        + buttons
        + "</div></div>"
    )
