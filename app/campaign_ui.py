"""How the app draws campaigns: status badges, progress bars, schedules and notifications.

Shared by the Campaigns page and the Campaign Builder, so a status or a number reads the
same wherever it appears.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

import streamlit as st

from app import navigation, ui
from core.campaign_progress import RATE_FRESH, ProgressView
from core.campaigns import ExcludedRecipient, local_time
from sql.schema import Campaign, Notification

#: Messages for the Campaigns page's next run, as (st function name, text) pairs.
FLASH_KEY = "campaigns_flash"

STATUS_COLORS = {
    "draft": "gray",
    "scheduled": "blue",
    "running": "green",
    "paused": "orange",
    "completed": "violet",
    "failed": "red",
    "cancelled": "gray",
}
STATUS_ICONS = {
    "draft": ":material/edit_note:",
    "scheduled": ":material/schedule:",
    "running": ":material/send:",
    "paused": ":material/pause_circle:",
    "completed": ":material/task_alt:",
    "failed": ":material/error:",
    "cancelled": ":material/block:",
}
STATUS_MEANINGS = {
    "draft": "being prepared; nothing is sent",
    "scheduled": "waits for its start time",
    "running": "sending now",
    "paused": "stopped for now; resume to continue where it left off",
    "completed": "every message was sent or given up",
    "failed": "stopped for good; see the reason",
    "cancelled": "cancelled; unsent messages were not sent",
}
TYPE_LABELS = {
    "text": "Text",
    "image": "Image",
    "document": "Document",
    "video": "Video",
    "template": "Template",
}
# Notification kind -> how loudly it is shown.
NOTICE_STYLES = {
    "campaign_started": ("info", ":material/send:"),
    "campaign_completed": ("success", ":material/task_alt:"),
    "campaign_failed": ("error", ":material/error:"),
    "campaign_cancelled": ("info", ":material/block:"),
    "campaign_paused": ("warning", ":material/pause_circle:"),
    "campaign_not_started": ("error", ":material/schedule:"),
}


def page_spec(script: str) -> navigation.PageSpec:
    """A registered page by its script (for links between the campaign pages)."""
    found = find_page(script)
    assert found is not None, f"{script} is not in app.navigation.PAGES"
    return found


def find_page(script: str) -> navigation.PageSpec | None:
    return next((spec for spec in navigation.PAGES if spec.script == script), None)


def status_badge(status: str) -> None:
    st.badge(
        status.title(),
        color=STATUS_COLORS.get(status, "gray"),  # type: ignore[arg-type]
        icon=STATUS_ICONS.get(status),
        help=STATUS_MEANINGS.get(status),
    )


def status_markdown(status: str) -> str:
    """The status as an inline badge for markdown text."""
    return f":{STATUS_COLORS.get(status, 'gray')}-badge[{status.title()}]"


def duration(seconds: float | None) -> str:
    """``4h05m``, ``7m40s`` or ``12s``."""
    if seconds is None:
        return "unknown"
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def schedule_text(campaign: Campaign) -> str:
    """``Fri 2026-03-06 09:00 Asia/Jakarta`` in the zone the campaign was scheduled in."""
    moment = local_time(campaign)
    if moment is None:
        return ""
    return f"{moment:%a %Y-%m-%d %H:%M} {campaign.timezone}"


def until(moment: datetime | None, now: datetime) -> str:
    """``in 3h20m`` or ``due now``."""
    if moment is None:
        return ""
    seconds = (moment - now).total_seconds()
    return f"in {duration(seconds)}" if seconds > 60 else "due now"


def progress_text(view: ProgressView) -> str:
    """The line on a progress bar: sent / total, rate and time left."""
    parts = [f"{view.sent:,} / {view.total:,} sent"]
    if view.failed:
        parts.append(f"{view.failed:,} failed")
    if view.expired:
        parts.append(f"{view.expired:,} expired")
    if view.cancelled:
        parts.append(f"{view.cancelled:,} cancelled")
    if view.status == "running":
        parts.append(f"{view.rate_per_second:.1f} msg/s")
        if view.queued and view.eta_seconds is not None:
            parts.append(f"about {duration(view.eta_seconds)} left")
    return " · ".join(parts)


def silent_sender(view: ProgressView, now: datetime) -> bool:
    """A running campaign with messages queued that no sender has measured lately."""
    if view.status != "running" or not view.queued:
        return False
    return view.measured_at is None or now - view.measured_at > RATE_FRESH


def progress_bar(view: ProgressView, now: datetime) -> None:
    """The bar, its numbers, and what the owner should know about it."""
    st.progress(min(1.0, view.fraction), text=progress_text(view))
    st.caption(
        f"{view.delivered:,} delivered · {view.read:,} read"
        + (f" · {view.queued:,} still to send" if view.queued else "")
    )
    if view.next_due_at is not None:
        st.info(
            f"{view.queued:,} message{'' if view.queued == 1 else 's'} wait"
            f"{'s' if view.queued == 1 else ''} for a retry WhatsApp asked for (for example "
            f"its engagement limit): next at {ui.local_time(view.next_due_at)}. Sending resumes "
            "on its own then; the campaign completes after the last one.",
            icon=":material/schedule:",
        )
    elif silent_sender(view, now):
        since = (
            f"for {duration((now - view.measured_at).total_seconds())}"
            if view.measured_at
            else "yet"
        )
        st.warning(
            f"No sender has reported progress {since}. Messages go out while a Siaran "
            "sender runs: the Dagster send job, or `siaran worker`.",
            icon=":material/hourglass_empty:",
        )


def ended_summary(campaign: Campaign) -> str:
    """The final figures of a campaign that ended, from its counters."""
    parts = [
        f"{campaign.sent_count:,} of {campaign.total_recipients:,} sent",
        f"{campaign.delivered_count:,} delivered",
        f"{campaign.read_count:,} read",
        f"{campaign.replied_count:,} replied",
        f"{campaign.failed_count:,} failed",
    ]
    return " · ".join(parts)


def left_out(campaign: Campaign) -> str:
    """Who the launch left out and why, e.g. ``3 opted out, 1 in cooldown``."""
    reasons = (
        (campaign.excluded_opted_out, "opted out"),
        (campaign.excluded_cooldown, "in cooldown"),
        (campaign.excluded_invalid_phone, "with an invalid number"),
        (campaign.excluded_duplicate_phone, "with a duplicate number"),
        (campaign.excluded_missing_variable, "missing a variable"),
        (campaign.excluded_invalid_content, "whose message WhatsApp would refuse"),
    )
    return ", ".join(f"{count:,} {why}" for count, why in reasons if count)


def exclusions_csv(rows: Iterable[ExcludedRecipient]) -> str:
    """The left-out contacts as CSV: contact id, phone (as the viewer may see it), why."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["contact_id", "phone", "reason", "detail"])
    for row in rows:
        writer.writerow([row.contact_id, row.phone, row.reason, row.detail or ""])
    return out.getvalue()


def notice(note: Notification, when: str) -> None:
    """One in-app notification, as loud as its kind deserves."""
    style, icon = NOTICE_STYLES.get(note.kind, ("info", ":material/notifications:"))
    text = f"**{note.title}** · {when}" + (f"  \n{note.body}" if note.body else "")
    getattr(st, style)(text, icon=icon)
