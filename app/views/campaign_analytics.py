"""Campaign analytics: metrics, engagement over time, replies, failures (with retry), exports.

The campaign comes from ``?campaign=<id>`` (the Campaigns page links here) or the picker.
Every figure comes from the core functions behind ``GET /api/campaigns/{id}/analytics``,
``/timeline``, ``/engagement`` and ``/replies``, so the page and the API always agree.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import altair as alt
import polars as pl
import streamlit as st

from app import auth, ui
from core.analytics import export, messages, report
from core.analytics.metrics import METRIC_BY_NAME, format_duration, format_value
from core.analytics.rollups import EVENTS
from core.analytics.warehouse import Warehouse
from core.campaigns.outbox import retry_failed_messages
from core.errors import InvalidInput
from core.permissions import Actor, Permission
from sql.types import utcnow

CAMPAIGN_PARAM = "campaign"
NOTICE_KEY = "analytics_notice"
PICKER_KEY = "analytics_campaign"
WRITTEN_KEY = "analytics_campaign_in_address"
COUNT_CARDS = ("total_recipients", "sent", "delivered", "read", "replied", "failed", "opted_out")
RATE_CARDS = (
    "delivery_rate",
    "open_rate",
    "reply_rate",
    "response_rate",
    "failure_rate",
    "opt_out_rate",
)
TIME_CARDS = ("avg_reply_seconds", "median_reply_seconds")
LIVE_STATUSES = ("running", "paused")
LIVE_MINUTES_AFTER = 30
REFRESH_SECONDS = 5
#: The hourly timeline marks every hour with a point while it has at most this many.
POINTS_UP_TO = 48
LIVE_KEY = "analytics_live"
LIVE_SHOWN_KEY = "analytics_live_shown"
LOADED_REPORT_KEY = "analytics_loaded_report"
EXPORT_LABELS = {"csv": "CSV", "xlsx": "Excel", "parquet": "Parquet"}

actor = auth.signed_in_actor()
siaran = auth.get_siaran()
warehouse = Warehouse.for_settings(siaran.settings)
sources = {"warehouse": warehouse, "settings": siaran.settings}
ui.page_header(
    "Campaign analytics",
    "What happened to a campaign's messages: delivery, opens, replies, opt-outs and failures. "
    "Definitions are in the help of each figure.",
)


def chosen_campaign(choices: list[report.CampaignChoice]) -> uuid.UUID | None:
    """The campaign in the address (``?campaign=``) or picked here; kept in the address.

    A link (or an edited address) sets the picker; picking sets the address. The address
    value this page wrote last is remembered to tell the two apart.
    """
    labels = {str(c.id): f"{c.name} · {c.status}" for c in choices}
    wanted = st.query_params.get(CAMPAIGN_PARAM)
    try:
        asked = str(uuid.UUID(wanted)) if wanted else None
    except ValueError:
        st.warning(f"“{wanted}” is not a campaign id; pick a campaign below.")
        asked = None
    if asked is not None and asked not in labels:
        labels = {asked: "The campaign in the address", **labels}
    if not labels:
        return None
    if asked is not None and asked != st.session_state.get(WRITTEN_KEY):
        st.session_state[PICKER_KEY] = asked  # arrived by a link
    if st.session_state.get(PICKER_KEY) not in labels:
        st.session_state.pop(PICKER_KEY, None)
    picked = st.selectbox("Campaign", list(labels), format_func=labels.__getitem__, key=PICKER_KEY)
    st.query_params[CAMPAIGN_PARAM] = st.session_state[WRITTEN_KEY] = picked
    return uuid.UUID(picked)


def cards(summary: report.CampaignReport, names: tuple[str, ...]) -> None:
    """One ``st.metric`` per metric, its definition as the help."""
    values = summary.metrics.as_dict()
    for column, name in zip(st.columns(len(names)), names, strict=True):
        metric = METRIC_BY_NAME[name]
        column.metric(metric.label, format_value(metric, values[name]), help=metric.definition)


def source_note(source: report.Source) -> None:
    if source.kind == "warehouse":
        st.caption(f"From the analytics warehouse, refreshed {ui.local_time(source.as_of)}.")
    else:
        st.caption(
            f"Computed live at {ui.local_time(source.as_of)}: the analytics warehouse has not "
            "caught up with this campaign yet."
        )


def status_breakdown(summary: report.CampaignReport) -> None:
    st.subheader("Message status")
    table = pl.DataFrame(
        {"Status": list(summary.statuses), "Messages": list(summary.statuses.values())}
    )
    left, right = st.columns([1, 2])
    left.dataframe(table, hide_index=True, key="analytics_statuses")
    chart = (
        alt.Chart(table.filter(pl.col("Messages") > 0))
        .mark_bar()
        .encode(
            x=alt.X("Messages:Q"),
            y=alt.Y("Status:N", sort=list(summary.statuses)),
            tooltip=["Status", "Messages"],
        )
    )
    right.altair_chart(chart, width="stretch")


def timeline_chart(campaign_id: uuid.UUID, timezone: str) -> None:
    st.subheader("Engagement over time")
    granularity = st.radio(
        "Per",
        ["hourly", "daily"],
        horizontal=True,
        key="analytics_granularity",
        format_func=lambda g: "Hour" if g == "hourly" else "Day",
    )
    with siaran.uow.session() as session:
        found = report.timeline(session, actor, campaign_id, granularity, **sources)
    if not found.points:
        ui.empty_state("Nothing has happened yet.", "Events appear as WhatsApp reports them.")
        return
    long = pl.DataFrame(found.points).unpivot(
        index="period", on=list(EVENTS), variable_name="event", value_name="messages"
    )
    # One period draws no line at all (a campaign in its first hour): mark each period with
    # a point unless there are too many to tell apart.
    points = granularity == "daily" or len(found.points) <= POINTS_UP_TO
    chart = (
        alt.Chart(long)
        .mark_line(point=points)
        .encode(
            x=alt.X("period:T", title=f"Local time ({timezone})"),
            y=alt.Y("messages:Q", title="Messages"),
            color=alt.Color("event:N", sort=list(EVENTS), title=None),
            tooltip=["period:T", "event:N", "messages:Q"],
        )
    )
    st.altair_chart(chart, width="stretch")
    with siaran.uow.session() as session:
        by_hour = report.engagement(session, actor, campaign_id, **sources).by_hour
    hours = (
        pl.DataFrame(by_hour)
        .select("hour_of_day", "read", "replied")
        .unpivot(index="hour_of_day", variable_name="event", value_name="messages")
    )
    st.caption(f"Reads and replies by hour of the day ({timezone})")
    st.altair_chart(
        alt.Chart(hours)
        .mark_bar()
        .encode(
            x=alt.X("hour_of_day:O", title="Hour"),
            y=alt.Y("messages:Q", title="Messages"),
            color=alt.Color("event:N", title=None),
            xOffset="event:N",
        ),
        width="stretch",
    )


def latency_chart(summary: report.CampaignReport) -> None:
    st.subheader("Time to reply")
    cards(summary, TIME_CARDS)
    buckets = pl.DataFrame([b.__dict__ for b in summary.reply_latency])
    if not buckets["replies"].sum():
        ui.empty_state("No replies yet.")
        return
    order = buckets["label"].to_list()
    st.altair_chart(
        alt.Chart(buckets)
        .mark_bar()
        .encode(
            x=alt.X("label:N", sort=order, title=None),
            y=alt.Y("replies:Q", title="Replies"),
            tooltip=["label", "replies", alt.Tooltip("share:Q", format=".1%")],
        ),
        width="stretch",
    )


def replies(campaign_id: uuid.UUID) -> None:
    st.subheader("Replies")
    with siaran.uow.session() as session:
        page = messages.list_replies(session, actor, campaign_id, limit=100)
    if not page.items:
        ui.empty_state("No one has replied yet.")
        return
    if page.has_more:
        st.caption(f"The latest 100 of {page.total:,} replies; export the tracking data for all.")
    rows = [
        {
            "When": ui.local_time(r.replied_at),
            "Contact": r.contact_name or "",
            "Phone": r.phone,
            "Reply": r.reply_text or "",
            "Time to reply": ""
            if r.seconds_to_reply is None
            else format_duration(r.seconds_to_reply),
        }
        for r in page.items
    ]
    st.dataframe(rows, hide_index=True, key="analytics_replies")


def retry(campaign_id: uuid.UUID, ids: list[uuid.UUID] | None) -> None:
    """Button callback: put retryable failed messages (all, or ``ids``) back in the outbox."""
    try:
        with siaran.uow.begin() as session:
            done = retry_failed_messages(
                session, actor, campaign_id, settings=siaran.settings, message_ids=ids
            )
    except InvalidInput as exc:
        st.session_state[NOTICE_KEY] = ("error", exc.message)
        return
    skipped = ", ".join(f"{n:,} {why}" for why, n in done.skipped.items())
    text = f"{done.retried:,} failed messages are queued again."
    if skipped:
        text += f" Not retried: {skipped}."
    st.session_state[NOTICE_KEY] = ("success", text)


def failures(campaign_id: uuid.UUID, can_retry: bool) -> None:
    st.subheader("Failed messages")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        getattr(st, notice[0])(notice[1])
    with siaran.uow.session() as session:
        groups = messages.failure_groups(session, actor, campaign_id)
        failed = messages.list_messages(session, actor, campaign_id, status="failed", limit=500)
    if not groups:
        ui.empty_state("No message has failed.")
        return
    st.dataframe(
        [
            {
                "Error": g.error_title or "",
                "Code": g.error_code,
                "Class": g.error_category or "",
                "Messages": g.count,
                "Retry possible": "yes" if g.retryable else "no",
            }
            for g in groups
        ],
        hide_index=True,
        key="analytics_failures",
    )
    retryable = [m for m in failed.items if m.retryable]
    if not can_retry:
        st.caption("Only owners can retry failed messages.")
        return
    total = sum(g.count for g in groups if g.retryable)
    st.button(
        f"Retry all retryable ({total:,})",
        key="analytics_retry_all",
        icon=":material/replay:",
        disabled=not total,
        on_click=retry,
        args=(campaign_id, None),
        help="Errors WhatsApp reports as temporary, throttling, or fixed campaign problems. "
        "Numbers not on WhatsApp and opted-out customers are never retried.",
    )
    if retryable:
        labels = {str(m.id): f"{m.phone} · {m.error_title or m.error_code}" for m in retryable}
        picked = st.multiselect(
            "Or pick messages",
            list(labels),
            format_func=labels.__getitem__,
            key="analytics_retry_pick",
        )
        st.button(
            "Retry selected",
            key="analytics_retry_selected",
            disabled=not picked,
            on_click=retry,
            args=(campaign_id, [uuid.UUID(p) for p in picked]),
        )


def export_data(viewer: Actor, campaign_id: uuid.UUID, kind: str, fmt: str) -> Callable[[], bytes]:
    """The file's bytes, made only when the button is pressed (exports can be large)."""

    def make() -> bytes:
        with tempfile.TemporaryDirectory() as folder, siaran.uow.session() as session:
            written = export.export_campaign(
                session,
                viewer,
                campaign_id,
                kind=kind,
                fmt=fmt,
                directory=Path(folder),
                **sources,
            )
            return written.path.read_bytes()

    return make


def exports(summary: report.CampaignReport) -> None:
    st.subheader("Export")
    for kind, what in (("report", "Report"), ("tracking", "Tracking data")):
        row = st.columns(len(export.FORMATS) + 1, vertical_alignment="center")
        row[0].markdown(f"**{what}**")
        for column, fmt in zip(row[1:], export.FORMATS, strict=True):
            column.download_button(
                EXPORT_LABELS[fmt],
                data=export_data(actor, summary.campaign_id, kind, fmt),
                file_name=export.filename(summary.name, kind, fmt),
                mime=export.MEDIA_TYPES[fmt],
                key=f"analytics_export_{kind}_{fmt}",
                icon=":material/download:",
                on_click="ignore",
            )


with siaran.uow.session() as session:
    choices = report.campaign_choices(session, actor)
campaign_id = chosen_campaign(choices)
if campaign_id is None:
    ui.empty_state(
        "No campaign has been launched yet.", "Its analytics appear here once it starts sending."
    )
    st.stop()


def load_report(campaign_id: uuid.UUID) -> report.CampaignReport:
    with siaran.uow.session() as session:
        return report.campaign_report(session, actor, campaign_id, **sources)


def still_changing(summary: report.CampaignReport, now: datetime) -> bool:
    """Sending, or so recently active that receipts and replies are still coming in."""
    if summary.status in LIVE_STATUSES:
        return True
    last = summary.last_activity_at
    if last is None:
        return False
    if last.tzinfo is None:  # the warehouse keeps UTC without a zone
        last = last.replace(tzinfo=UTC)
    return now - last < timedelta(minutes=LIVE_MINUTES_AFTER)


def figures(campaign_id: uuid.UUID) -> None:
    """Everything computed from the campaign's messages; reruns on its own while live."""
    with ui.friendly_errors():
        # A full run has just loaded it; the fragment's own reruns load it afresh.
        summary = st.session_state.pop(LOADED_REPORT_KEY, None) or load_report(campaign_id)
        st.markdown(f"### {summary.name}")
        live = st.session_state.get(LIVE_KEY, True) and still_changing(summary, utcnow())
        st.caption(
            f"Status: {summary.status} · times on the campaign's clock: {summary.timezone}"
            + (
                f" · first sent {ui.local_time(summary.first_sent_at)}"
                if summary.first_sent_at
                else ""
            )
            + (f" · updating every {REFRESH_SECONDS} s" if live else "")
        )
        source_note(summary.source)
        cards(summary, COUNT_CARDS)
        cards(summary, RATE_CARDS)
        status_breakdown(summary)
        timeline_chart(campaign_id, summary.timezone)
        latency_chart(summary)
        replies(campaign_id)
        if live != st.session_state.get(LIVE_SHOWN_KEY):
            st.session_state[LIVE_SHOWN_KEY] = live
            st.rerun()  # start or stop the timer: it is set when the fragment is declared


summary = load_report(campaign_id)
st.toggle(
    "Update live",
    value=True,
    key=LIVE_KEY,
    help=f"While the campaign sends, and for {LIVE_MINUTES_AFTER} minutes after its last "
    f"activity, its figures refresh every {REFRESH_SECONDS} s as WhatsApp reports "
    "deliveries, reads and replies.",
)
live_now = st.session_state[LIVE_KEY] and still_changing(summary, utcnow())
st.session_state[LIVE_SHOWN_KEY] = live_now
st.session_state[LOADED_REPORT_KEY] = summary
st.fragment(figures, run_every=REFRESH_SECONDS if live_now else None)(campaign_id)
failures(campaign_id, actor.can(Permission.CAMPAIGN_WRITE))
exports(summary)
