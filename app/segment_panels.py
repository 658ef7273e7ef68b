"""How the Segments page shows a segment: its criteria in words, preview, members, history.

Pure rendering of core objects; the page (``app/views/segments.py``) decides what to load.
Phone numbers arrive from the core already masked for roles that may not see them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from app import ui
from app.segment_builder import (
    COMPARE,
    CONDITIONS,
    FIELD_OPS,
    INTERACTION,
    LABEL_MATCH,
    STATUS_SCOPE,
)
from core.segment_members import MemberPage
from core.segments import MembershipHistoryEntry, Preview, SegmentSummary
from core.segments.compiler import value_kind
from sql.types import utcnow

GROUP_WORDS = {"all": "all of", "any": "any of", "not": "none of"}


# --- criteria in words ----------------------------------------------------------------------


def describe(criteria: dict[str, Any]) -> str:
    """The criteria as an indented markdown list a person can read."""
    if criteria.get("type") == "all" and not criteria.get("conditions"):
        return "Everyone: no conditions."
    return "\n".join(_lines(criteria, 0))


def _lines(node: dict[str, Any], depth: int) -> list[str]:
    indent = "    " * depth
    if node.get("type") in GROUP_WORDS:
        head = f"{indent}- Matches **{GROUP_WORDS[node['type']]}**:"
        children = [
            line for child in node.get("conditions", []) for line in _lines(child, depth + 1)
        ]
        return [head, *children]
    return [f"{indent}- {condition_text(node)}"]


def condition_text(node: dict[str, Any]) -> str:
    kind = node.get("type", "")
    if kind == "labels":
        joiner = "and" if node["match"] == "all" else "or"
        labels = _listed(node["labels"], joiner)
        return f"{LABEL_MATCH[node['match']].capitalize()} the labels {labels}"
    if kind == "status":
        scope = STATUS_SCOPE[node.get("scope", "latest")].lower()
        statuses = [s.replace("_", " ") for s in node["statuses"]]
        return f"The {scope}'s status is {_listed(statuses, 'or')}"
    if kind == "last_interaction":
        op = node["op"]
        if op == "between":
            return f"Last interaction between {node['start']} and {node['end']}"
        if op == "never":
            return "Never interacted"
        return "Last interaction " + INTERACTION[op].replace("…", str(node["days"]))
    if kind == "custom_field":
        return _field_text(node)
    if kind == "conversation_count":
        window = f" in the last {node['within_days']} days" if node.get("within_days") else ""
        return f"Had {COMPARE[node['op']]} {node['value']} conversations{window}"
    if kind == "rating":
        return f"{node['measure'].capitalize()} rating is {COMPARE[node['op']]} {node['value']}"
    return CONDITIONS.get(kind, kind)


def _field_text(node: dict[str, Any]) -> str:
    op = node["op"]
    if op == "in":
        return f"Field **{node['field']}** is one of {_listed(node['values'], 'or')}"
    if op in ("is_set", "is_not_set"):
        return f"Field **{node['field']}** {FIELD_OPS['text'][op]}"
    words = FIELD_OPS[value_kind(node["value"])].get(op, op)
    return f"Field **{node['field']}** {words} `{node['value']}`"


def _listed(values: list[Any], joiner: str = "and") -> str:
    quoted = [f"**{value}**" for value in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + f" {joiner} " + quoted[-1]


# --- figures --------------------------------------------------------------------------------


def segment_metrics(summary: SegmentSummary) -> None:
    members, reachable, opted_out, refreshed = st.columns(4)
    members.metric("Members", f"{summary.contact_count:,}")
    reachable.metric("Reachable", f"{summary.reachable_count:,}")
    opted_out.metric("Opted out", f"{summary.contact_count - summary.reachable_count:,}")
    refreshed.metric(
        "Last refreshed",
        ago(summary.last_refreshed_at),
        help=ui.local_time(summary.last_refreshed_at) or None,
    )


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the largest whole unit: "just now", "5 min ago", "3 days ago"."""
    if moment is None:
        return "never"
    seconds = max(0, int(((now or utcnow()) - moment).total_seconds()))
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "min")):
        if seconds >= size:
            count = seconds // size
            plural = "s" if count > 1 and unit != "min" else ""
            return f"{count} {unit}{plural} ago"
    return "just now"


def preview_panel(preview: Preview, *, key: str) -> None:
    """Counts, breakdowns by label and status, and up to 20 sample members."""
    matching, reachable, opted_out = st.columns(3)
    matching.metric("Matching", f"{preview.matching:,}")
    reachable.metric("Reachable", f"{preview.reachable:,}")
    opted_out.metric("Opted out", f"{preview.opted_out:,}")
    fresh = ui.local_time(preview.features_computed_at) or "not computed yet"
    source = "frozen members" if preview.source == "snapshot" else "criteria evaluated now"
    st.caption(f"From the {source}; contact data as of {fresh} or later.")
    if not preview.matching:
        ui.empty_state("No contact matches these conditions.")
        return
    by_label, by_status = st.columns(2)
    with by_label:
        st.markdown("**By label**")
        if preview.by_label:
            rows = {"Label": list(preview.by_label), "Members": list(preview.by_label.values())}
            st.bar_chart(rows, x="Label", y="Members", horizontal=True, sort="-Members")
        else:
            st.caption("No member carries a label.")
    with by_status:
        st.markdown("**By latest conversation status**")
        names = [s.replace("_", " ") for s in preview.by_status]
        rows = {"Status": names, "Members": list(preview.by_status.values())}
        st.bar_chart(rows, x="Status", y="Members", horizontal=True, sort="-Members")
    st.markdown(f"**Sample members** ({len(preview.sample)} of {preview.matching:,})")
    st.dataframe(
        [
            {
                "Name": member.name,
                "Phone": member.phone,
                "Labels": ", ".join(member.labels),
                "Last interaction": ui.local_time(member.last_interaction_at),
                "Opted out": member.opted_out,
            }
            for member in preview.sample
        ],
        hide_index=True,
        key=f"{key}_sample",
    )
    if any(member.phone_masked for member in preview.sample):
        st.caption("Phone numbers are masked for your role.")


def members_panel(page: MemberPage) -> None:
    if not page.total:
        ui.empty_state("The last snapshot has no members.")
        return
    first = page.offset + 1
    st.caption(f"{first:,}–{page.offset + len(page.items):,} of {page.total:,} members "
               f"(as of {ui.local_time(page.last_refreshed_at) or 'never'})")  # fmt: skip
    st.dataframe(
        [
            {
                "Name": item.name,
                "Phone": item.phone,
                "Labels": ", ".join(item.labels),
                "Opted out": item.opted_out,
            }
            for item in page.items
        ],
        hide_index=True,
        key="segments_members_table",
    )


def history_panel(entries: list[MembershipHistoryEntry]) -> None:
    """Who entered and left at each snapshot, oldest first in the chart."""
    if not entries:
        ui.empty_state("No snapshot has changed the members yet.")
        return
    ordered = list(reversed(entries))
    rows = {
        "Snapshot": [entry.changed_at for entry in ordered],
        "Entered": [entry.entered for entry in ordered],
        "Left": [-entry.left for entry in ordered],
    }
    st.bar_chart(rows, x="Snapshot", y=["Entered", "Left"])
    st.dataframe(
        [
            {"Snapshot": ui.local_time(e.changed_at), "Entered": e.entered, "Left": e.left}
            for e in entries
        ],
        hide_index=True,
        key="segments_history_table",
    )
