"""Steps 1 and 3 of the Campaign Builder: the audience, and when and how fast to send.

Each step draws its widgets from the draft and writes them back (``app.wizard.state``);
``*_errors`` say, in an owner's words, what keeps the step from being done. The core
checks everything again when the campaign is saved, scheduled or sent.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import streamlit as st

from app import campaign_ui as cui
from app import ui
from app.wizard.state import MEMO, WIDGET, Draft, bind, memo
from core.bootstrap import Siaran
from core.campaign_drafts import SegmentChoice, segment_choices
from core.campaigns import Estimate, estimate_recipients
from core.campaigns.schedule import PAST_GRACE
from core.campaigns.service import MAX_RATE_LIMIT
from core.errors import InvalidInput
from core.permissions import Actor
from sql.types import utcnow

ZONES = tuple(sorted(available_timezones()))
SEND_MODES = {"now": "Send right after the review", "later": "Schedule for a date and time"}
REASONS = {
    "opted_out": "opted out",
    "cooldown": "in cooldown",
    "invalid_phone": "invalid number",
    "duplicate_phone": "duplicate number",
}


# --- step 1: audience ------------------------------------------------------------------------


def segments(siaran: Siaran, actor: Actor) -> dict[str, SegmentChoice]:
    with siaran.uow.session() as session:
        return {str(s.id): s for s in segment_choices(session, actor)}


def audience(siaran: Siaran, actor: Actor, draft: Draft) -> None:
    draft.name = st.text_input(
        "Campaign name",
        key=bind("name", draft.name),
        max_chars=200,
        placeholder="e.g. Promo gajian Maret",
        help="For you and your team; customers never see it.",
    )
    draft.description = st.text_area(
        "Description (optional)", key=bind("description", draft.description), max_chars=5_000,
        height=80,
    )  # fmt: skip
    choices = segments(siaran, actor)
    if not choices:
        draft.segment_id = None
        ui.empty_state(
            "There are no segments yet.",
            "A segment decides who receives a campaign: create one first, then come back.",
        )
        return
    if draft.segment_id is not None and draft.segment_id not in choices:
        draft.segment_id = None  # deleted since: choose again
        st.session_state.pop(WIDGET + "segment", None)
    draft.segment_id = st.selectbox(
        "Segment",
        list(choices),
        index=None,
        format_func=lambda i: f"{choices[i].name} ({choices[i].kind})",
        key=bind("segment", draft.segment_id),
        placeholder="Choose who receives this campaign",
        help="Dynamic segments are evaluated when the campaign starts; static ones are a "
        "fixed list of contacts.",
    )
    if draft.segment_id is not None:
        segment_id = uuid.UUID(draft.segment_id)
        estimate = memo(
            "estimate",
            draft.segment_id,
            lambda: _estimate(siaran, actor, segment_id),
        )
        estimate_panel(estimate, siaran.settings.campaign_cooldown_hours)


def _estimate(siaran: Siaran, actor: Actor, segment_id: uuid.UUID) -> Estimate:
    with siaran.uow.session() as session:
        return estimate_recipients(session, actor, segment_id=segment_id, settings=siaran.settings)


def estimate_panel(estimate: Estimate, cooldown_hours: float) -> None:
    """Members, who would receive it now, and who would be left out and why."""
    st.markdown("**Who would receive it if sent now**")
    columns = st.columns(4)
    columns[0].metric("Segment members", f"{estimate.members:,}")
    columns[1].metric("Would receive", f"{estimate.recipients:,}")
    columns[2].metric("Opted out", f"{estimate.excluded.get('opted_out', 0):,}")
    columns[3].metric(
        "In cooldown",
        f"{estimate.excluded.get('cooldown', 0):,}",
        help=f"Got a broadcast in the last {cooldown_hours:g} hours; they are skipped so "
        "nobody is messaged too often.",
    )
    other = [
        f"{estimate.excluded[reason]:,} {label}"
        for reason, label in REASONS.items()
        if reason not in ("opted_out", "cooldown") and estimate.excluded.get(reason)
    ]
    if other:
        st.caption("Also left out: " + ", ".join(other) + ".")
    if estimate.messaging_limit_tier:
        limit = estimate.messaging_limit
        st.caption(
            f"Your number's messaging limit: {'unlimited' if limit is None else f'{limit:,}'}"
            f" customers per 24 hours ({estimate.messaging_limit_tier})."
        )
    for warning in estimate.warnings:
        st.warning(warning, icon=":material/warning:")
    if not estimate.members:
        st.warning("This segment has no members right now.", icon=":material/group_off:")
    elif not estimate.recipients:
        st.warning(
            "No member of this segment can receive a campaign right now (see who is left out "
            "above).",
            icon=":material/group_off:",
        )


def audience_errors(draft: Draft, choices: dict[str, SegmentChoice]) -> list[str]:
    errors = []
    if not draft.name.strip():
        errors.append("Give the campaign a name.")
    if draft.segment_id is None:
        errors.append("Choose a segment: it decides who receives the campaign.")
    elif draft.segment_id not in choices:
        errors.append("The chosen segment no longer exists; choose another.")
    return errors


# --- step 3: schedule ------------------------------------------------------------------------


def _today(zone_name: str) -> date:
    return datetime.now(ZoneInfo(zone_name)).date()


def schedule(siaran: Siaran, draft: Draft) -> None:
    draft.send_mode = st.radio(
        "When should it go out?",
        list(SEND_MODES),
        format_func=SEND_MODES.__getitem__,
        key=bind("send_mode", draft.send_mode),
        horizontal=True,
    )
    if draft.timezone not in ZONES:
        draft.timezone = "Asia/Jakarta"
        st.session_state.pop(WIDGET + "timezone", None)
    if draft.send_mode == "later":
        columns = st.columns([2, 2, 3])
        draft.send_date = columns[0].date_input(
            "Date",
            key=bind("send_date", draft.send_date or _today(draft.timezone) + timedelta(days=1)),
            format="YYYY-MM-DD",
        )
        draft.send_time = columns[1].time_input(
            "Time", key=bind("send_time", draft.send_time), step=timedelta(minutes=5)
        )
        draft.timezone = columns[2].selectbox(
            "Timezone",
            ZONES,
            key=bind("timezone", draft.timezone),
            help="The clock the date and time are read on; Siaran stores the moment in UTC.",
        )
        _start_feedback(draft)
    draft.rate_limit = int(
        st.number_input(
            "Sending rate (messages per second)",
            min_value=1,
            max_value=MAX_RATE_LIMIT,
            step=1,
            key=bind("rate_limit", draft.rate_limit),
            help="Siaran never sends faster than this, nor faster than your number may.",
        )
    )
    estimate = st.session_state.get(MEMO + "estimate")
    if isinstance(estimate, tuple) and estimate[1].recipients:
        seconds = estimate[1].recipients / max(1, draft.rate_limit)
        st.caption(
            f"About {cui.duration(seconds)} for {estimate[1].recipients:,} recipients at this rate."
        )
    draft.expires = st.toggle(
        "Stop at a deadline",
        key=bind("expires", draft.expires),
        help="Messages not sent by then are marked expired instead of arriving late.",
    )
    if draft.expires:
        columns = st.columns([2, 2, 3])
        draft.expiry_date = columns[0].date_input(
            "Expiry date",
            key=bind(
                "expiry_date", draft.expiry_date or (draft.send_date or _today(draft.timezone))
            ),
            format="YYYY-MM-DD",
        )
        draft.expiry_time = columns[1].time_input(
            "Expiry time", key=bind("expiry_time", draft.expiry_time), step=timedelta(minutes=5)
        )
        if draft.send_mode == "later":
            columns[2].caption(f"Read on the same clock: {draft.timezone}.")
        else:
            draft.timezone = columns[2].selectbox(
                "Timezone", ZONES, key=bind("timezone", draft.timezone)
            )


def _start_feedback(draft: Draft) -> None:
    """What the chosen start means, or why it cannot be, as soon as it is entered."""
    try:
        start = draft.start_utc()
    except InvalidInput as exc:
        st.error(exc.message, icon=":material/schedule:")
        return
    if start is None:
        return
    st.caption(f"That is {start:%Y-%m-%d %H:%M} UTC ({cui.until(start, utcnow())}).")


def schedule_errors(draft: Draft, now: datetime | None = None) -> list[str]:
    now = now or utcnow()
    errors: list[str] = []
    start = None
    if draft.send_mode == "later":
        if draft.send_date is None or draft.send_time is None:
            errors.append("Choose the date and time to send it.")
        else:
            try:
                start = draft.start_utc()
            except InvalidInput as exc:
                errors.append(exc.message)
            else:
                assert start is not None
                if start < now - PAST_GRACE:
                    there = now.astimezone(ZoneInfo(draft.timezone))
                    errors.append(
                        f"{draft.send_date:%Y-%m-%d} {draft.send_time:%H:%M} in {draft.timezone} "
                        f"has already passed (it is now {there:%Y-%m-%d %H:%M} there). Choose "
                        "a later time, or send it right after the review."
                    )
    if not 1 <= draft.rate_limit <= MAX_RATE_LIMIT:
        errors.append(f"The sending rate must be between 1 and {MAX_RATE_LIMIT:,} messages/s.")
    if draft.expires:
        try:
            expiry = draft.expires_at()
        except InvalidInput as exc:
            errors.append(exc.message)
        else:
            assert expiry is not None
            if expiry <= (start or now):
                errors.append(
                    "The deadline must come after the campaign starts"
                    + (" (it is in the past)." if expiry <= now else ".")
                )
    return errors
