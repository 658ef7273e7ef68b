"""The segment criteria builder: groups and conditions as widgets, never JSON.

``render`` draws the tree kept by ``app.segment_state`` (start it with ``start``, read the
criteria back with ``criteria``): a group chooses all / any / none of its conditions, each
condition its type and type-specific inputs, with add and remove buttons. Labels come from
the CRM, custom field names and types from the contacts' data (``Options``); a custom
field's inputs follow its type (text, number, date picker, true/false).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import streamlit as st

from app import segment_state as state
from app.segment_state import criteria, describe_path, start
from core.custom_fields import CustomField
from core.segments.criteria import DEFAULT_TIMEZONE
from sql.schema import CONVERSATION_STATUSES

__all__ = ["Options", "criteria", "describe_path", "render", "start"]

GROUPS = {"all": "All of these", "any": "Any of these", "not": "None of these"}
CONDITIONS = {
    "labels": "Labels",
    "status": "Conversation status",
    "last_interaction": "Last interaction",
    "custom_field": "Custom field",
    "conversation_count": "Number of conversations",
    "rating": "Rating",
    "no_rating": "Never rated",
}
LABEL_MATCH = {"any": "has any of", "all": "has all of", "none": "has none of"}
STATUS_SCOPE = {"latest": "Latest conversation", "any": "Any conversation"}
INTERACTION = {
    "within_days": "within the last … days",
    "more_than_days_ago": "more than … days ago",
    "between": "between two dates",
    "never": "never",
}
COMPARE = {"eq": "exactly", "ne": "not", "gt": "more than", "gte": "at least",
           "lt": "fewer than", "lte": "at most"}  # fmt: skip
FIELD_TYPES = ("text", "number", "date", "boolean")
FIELD_OPS = {
    "text": {"eq": "is", "ne": "is not", "in": "is one of", "contains": "contains",
             "is_set": "is set", "is_not_set": "is not set"},
    "number": {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤",
               "is_set": "is set", "is_not_set": "is not set"},
    "date": {"eq": "is on", "ne": "is not on", "gt": "is after", "gte": "is on or after",
             "lt": "is before", "lte": "is on or before", "is_set": "is set",
             "is_not_set": "is not set"},
    "boolean": {"eq": "is", "is_set": "is set", "is_not_set": "is not set"},
}  # fmt: skip


@dataclass(frozen=True)
class Options:
    """What the builder offers: labels and custom fields found in the data."""

    labels: list[str] = field(default_factory=list)
    fields: list[CustomField] = field(default_factory=list)

    def field_type(self, name: str) -> str | None:
        return next((f.type for f in self.fields if f.name == name), None)

    def choices(self, name: str) -> list[Any]:
        return next((list(f.choices) for f in self.fields if f.name == name), [])


# --- widgets --------------------------------------------------------------------------------


def render(options: Options) -> None:
    """Draw the whole builder."""
    _render_group(state.tree(), options, depth=0, number="")


def _render_group(node: dict[str, Any], options: Options, depth: int, number: str) -> None:
    node_id = node["id"]
    with st.container(border=True):
        head, remove = st.columns([6, 1], vertical_alignment="bottom")
        state.seed(node_id, "group", "all")
        head.selectbox(
            "Match" if depth == 0 else f"Group {number}",
            list(GROUPS),
            format_func=GROUPS.get,
            key=state.key(node_id, "group"),
        )
        if depth:
            remove.button("Remove", key=state.key(node_id, "remove"), on_click=state.remove,
                          args=(node_id,), icon=":material/delete:")  # fmt: skip
        if not node["children"]:
            st.caption("No conditions yet: " + ("everyone matches." if depth == 0 else "add one."))
        for i, child in enumerate(node["children"], start=1):
            label = f"{number}.{i}" if number else str(i)
            if child["group"]:
                _render_group(child, options, depth + 1, label)
            else:
                _render_condition(child["id"], options, label)
        add, add_group = st.columns(2)
        add.button("Add condition", key=state.key(node_id, "add"), on_click=state.add,
                   args=(node_id, False), icon=":material/add:")  # fmt: skip
        add_group.button("Add group", key=state.key(node_id, "addgroup"), on_click=state.add,
                         args=(node_id, True), icon=":material/account_tree:")  # fmt: skip


def _render_condition(node_id: str, options: Options, number: str) -> None:
    with st.container(border=True):
        kind_column, remove = st.columns([6, 1], vertical_alignment="bottom")
        state.seed(node_id, "type", "labels")
        kind = kind_column.selectbox(
            f"Condition {number}", list(CONDITIONS), format_func=CONDITIONS.get,
            key=state.key(node_id, "type"),
        )  # fmt: skip
        remove.button("Remove", key=state.key(node_id, "remove"), on_click=state.remove,
                      args=(node_id,), icon=":material/delete:")  # fmt: skip
        RENDERERS[kind](node_id, options)


def _select(node_id: str, name: str, label: str, choices: dict[str, str], column: Any = st) -> str:
    key = state.seed(node_id, name, next(iter(choices)))
    if st.session_state[key] not in choices:
        st.session_state[key] = next(iter(choices))
    return column.selectbox(label, list(choices), format_func=choices.get, key=key)


def _labels(node_id: str, options: Options) -> None:
    match_column, labels_column = st.columns([2, 5])
    _select(node_id, "match", "Contact", LABEL_MATCH, match_column)
    key = state.seed(node_id, "labels", [])
    known = list(dict.fromkeys([*options.labels, *st.session_state[key]]))
    labels_column.multiselect("Labels", known, key=key, placeholder="Choose labels")


def _status(node_id: str, options: Options) -> None:
    scope_column, statuses_column = st.columns([2, 5])
    _select(node_id, "scope", "Of", STATUS_SCOPE, scope_column)
    key = state.seed(node_id, "statuses", [])
    statuses_column.multiselect(
        "Status is one of",
        list(CONVERSATION_STATUSES),
        key=key,
        format_func=_status_name,
        placeholder="Choose statuses",
    )


def _status_name(status: str) -> str:
    return status.replace("_", " ").capitalize()


def _last_interaction(node_id: str, options: Options) -> None:
    op_column, value_column, end_column = st.columns([2, 2, 2])
    op = _select(node_id, "op", "Last interaction was", INTERACTION, op_column)
    if op in ("within_days", "more_than_days_ago"):
        value_column.number_input("Days", min_value=1, max_value=36500, step=1,
                                  key=state.seed(node_id, "days", 30))  # fmt: skip
    elif op == "between":
        today = date.today()
        month_ago = today - timedelta(days=30)
        value_column.date_input("From", key=state.seed(node_id, "start", month_ago))
        end_column.date_input("To", key=state.seed(node_id, "end", today))
        st.caption(f"Whole days in {_seed_value(node_id, 'tz', DEFAULT_TIMEZONE)}, both included.")


def _seed_value(node_id: str, name: str, default: Any) -> Any:
    return st.session_state[state.seed(node_id, name, default)]


def _on_field_change(node_id: str, options: Options) -> None:
    name = st.session_state.get(state.key(node_id, "field"))
    found = options.field_type(name) if name else None
    if found:
        st.session_state[state.key(node_id, "ftype")] = found


def _custom_field(node_id: str, options: Options) -> None:
    names = [f.name for f in options.fields]
    key = state.seed(node_id, "field", names[0] if names else state.OTHER_FIELD)
    current = st.session_state[key]
    name_column, type_column, op_column, value_column = st.columns([3, 2, 2, 3])
    choices = list(dict.fromkeys([*names, *([current] if current != state.OTHER_FIELD else []),
                                  state.OTHER_FIELD]))  # fmt: skip
    name = name_column.selectbox("Field", choices, key=key, on_change=_on_field_change,
                                 args=(node_id, options))  # fmt: skip
    if name == state.OTHER_FIELD:
        name = name_column.text_input("Field name", key=state.seed(node_id, "other", ""))
    state.seed(node_id, "ftype", options.field_type(name) or "text")
    ftype = _select(node_id, "ftype", "Type", {t: t for t in FIELD_TYPES}, type_column)
    op = _select(node_id, "op", "Value", FIELD_OPS[ftype], op_column)
    if op in ("is_set", "is_not_set"):
        return
    if ftype == "text" and op == "in":
        key = state.seed(node_id, "texts", [])
        known = list(dict.fromkeys([*map(str, options.choices(name)), *st.session_state[key]]))
        value_column.multiselect("One of", known, key=key, accept_new_options=True)
    elif ftype == "text":
        value_column.text_input("Text", key=state.seed(node_id, "text", ""))
    elif ftype == "number":
        value_column.number_input("Number", key=state.seed(node_id, "number", 0.0), step=1.0,
                                  format="%g")  # fmt: skip
    elif ftype == "date":
        value_column.date_input("Date", key=state.seed(node_id, "date", date.today()))
    else:
        value_column.selectbox("Is", [True, False], key=state.seed(node_id, "bool", True),
                               format_func=lambda v: "true" if v else "false")  # fmt: skip


def _conversation_count(node_id: str, options: Options) -> None:
    op_column, count_column, window_column = st.columns([2, 2, 3])
    _select(node_id, "op", "Conversations", COMPARE, op_column)
    count_column.number_input("Count", min_value=0, step=1, key=state.seed(node_id, "count", 1))
    if window_column.checkbox("Only recent ones", key=state.seed(node_id, "windowed", False)):
        window_column.number_input("In the last … days", min_value=1, max_value=36500,
                                   step=1, key=state.seed(node_id, "window", 90))  # fmt: skip


def _rating(node_id: str, options: Options) -> None:
    measure_column, op_column, value_column = st.columns(3)
    _select(node_id, "measure", "Rating", {"average": "Average", "latest": "Latest"},
            measure_column)  # fmt: skip
    _select(node_id, "op", "Is", COMPARE, op_column)
    value_column.number_input("Stars", min_value=1.0, max_value=5.0, step=0.5,
                              key=state.seed(node_id, "rating", 4.0))  # fmt: skip


def _no_rating(node_id: str, options: Options) -> None:
    st.caption("Contacts who never rated a conversation.")


RENDERERS = {
    "labels": _labels,
    "status": _status,
    "last_interaction": _last_interaction,
    "custom_field": _custom_field,
    "conversation_count": _conversation_count,
    "rating": _rating,
    "no_rating": _no_rating,
}
