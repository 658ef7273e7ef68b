"""The criteria builder's state: a tree of groups and conditions, values in widget state.

The builder's shape (which groups hold which conditions) is a small tree in
``st.session_state[TREE_KEY]``; every value lives in its widget's state under
``sb_<node id>_<field>``. ``start``/``load`` seed both from a criteria document (to edit a
saved segment), ``criteria`` reads the document back for the core to validate, and
``describe_path`` turns the core's error paths into words the builder's labels match.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

import streamlit as st

from core.segments.compiler import value_kind
from core.segments.criteria import DEFAULT_TIMEZONE

TREE_KEY = "segment_builder_tree"
GROUP_TYPES = ("all", "any", "not")
OTHER_FIELD = "Another field…"


def key(node_id: str, name: str) -> str:
    return f"sb_{node_id}_{name}"


def seed(node_id: str, name: str, value: Any) -> str:
    """The widget key, holding ``value`` unless the widget already has one."""
    widget = key(node_id, name)
    if widget not in st.session_state:
        st.session_state[widget] = value
    return widget


def get(node_id: str, name: str, default: Any = None) -> Any:
    return st.session_state.get(key(node_id, name), default)


def _new_id() -> str:
    return uuid.uuid4().hex[:10]


# --- the tree -----------------------------------------------------------------------------


def start(document: dict[str, Any] | None = None) -> None:
    """Begin editing ``document`` (or an empty "all of these" group)."""
    for stale in [k for k in st.session_state if str(k).startswith("sb_")]:
        del st.session_state[stale]
    st.session_state[TREE_KEY] = load(document or {"type": "all", "conditions": []})


def tree() -> dict[str, Any]:
    if TREE_KEY not in st.session_state:
        start()
    return st.session_state[TREE_KEY]


def load(document: dict[str, Any]) -> dict[str, Any]:
    """A builder node for ``document``, its values seeded into widget state."""
    node_id = _new_id()
    if document.get("type") in GROUP_TYPES:
        st.session_state[key(node_id, "group")] = document["type"]
        children = [load(child) for child in document.get("conditions", [])]
        return {"id": node_id, "group": True, "children": children}
    kind = document.get("type")
    st.session_state[key(node_id, "type")] = kind
    for name, value in _widget_values(document).items():
        st.session_state[key(node_id, name)] = value
    return {"id": node_id, "group": False}


def _widget_values(document: dict[str, Any]) -> dict[str, Any]:
    kind = document.get("type")
    values: dict[str, Any] = {}
    if kind == "labels":
        values.update(match=document["match"], labels=list(document["labels"]))
    elif kind == "status":
        values.update(scope=document.get("scope", "latest"), statuses=list(document["statuses"]))
    elif kind == "last_interaction":
        values["op"] = document["op"]
        if "days" in document:
            values["days"] = int(document["days"])
        if document["op"] == "between":
            values.update(start=date.fromisoformat(document["start"]),
                          end=date.fromisoformat(document["end"]),
                          tz=document.get("timezone", DEFAULT_TIMEZONE))  # fmt: skip
    elif kind == "custom_field":
        values.update(field=document["field"], op=document["op"])
        sample = document.get("value", (document.get("values") or [None])[0])
        ftype = value_kind(sample) if sample is not None else "text"
        values["ftype"] = ftype
        if document["op"] == "in":
            values["texts"] = [str(v) for v in document.get("values", [])]
        elif "value" in document:
            value = document["value"]
            slot = {"text": "text", "number": "number", "date": "date", "boolean": "bool"}[ftype]
            if ftype == "date":
                value = date.fromisoformat(value[:10])
            elif ftype == "number":
                value = float(value)
            values[slot] = value
    elif kind == "conversation_count":
        values.update(op=document["op"], count=int(document["value"]))
        values["windowed"] = document.get("within_days") is not None
        values["window"] = int(document.get("within_days") or 90)
    elif kind == "rating":
        values.update(measure=document["measure"], op=document["op"],
                      rating=float(document["value"]))  # fmt: skip
    return values


def _find(node: dict[str, Any], node_id: str) -> tuple[dict[str, Any] | None, int]:
    """The group holding ``node_id`` and its place there."""
    for i, child in enumerate(node.get("children", [])):
        if child["id"] == node_id:
            return node, i
        if child["group"]:
            parent, place = _find(child, node_id)
            if parent is not None:
                return parent, place
    return None, -1


def add(group_id: str, as_group: bool) -> None:
    group = _node(tree(), group_id)
    if group is None:
        return
    node_id = _new_id()
    if as_group:
        st.session_state[key(node_id, "group")] = "any"
        group["children"].append({"id": node_id, "group": True, "children": []})
    else:
        st.session_state[key(node_id, "type")] = "labels"
        group["children"].append({"id": node_id, "group": False})


def remove(node_id: str) -> None:
    parent, place = _find(tree(), node_id)
    if parent is not None:
        del parent["children"][place]


def _node(node: dict[str, Any], node_id: str) -> dict[str, Any] | None:
    if node["id"] == node_id:
        return node
    for child in node.get("children", []):
        found = _node(child, node_id)
        if found is not None:
            return found
    return None


# --- back to a criteria document ----------------------------------------------------------


def criteria() -> dict[str, Any]:
    """The criteria document the widgets describe now (the core validates it)."""
    return _document(tree())


def _document(node: dict[str, Any]) -> dict[str, Any]:
    node_id = node["id"]
    if node["group"]:
        kind = get(node_id, "group", "all")
        return {"type": kind, "conditions": [_document(child) for child in node["children"]]}
    kind = get(node_id, "type", "labels")

    def value(name: str, default: Any = None) -> Any:
        return get(node_id, name, default)

    if kind == "labels":
        return {"type": kind, "match": value("match", "any"), "labels": list(value("labels", []))}
    if kind == "status":
        return {"type": kind, "scope": value("scope", "latest"),
                "statuses": list(value("statuses", []))}  # fmt: skip
    if kind == "last_interaction":
        op = value("op", "within_days")
        if op == "between":
            start, end = _iso(value("start")), _iso(value("end"))
            timezone = value("tz", DEFAULT_TIMEZONE)
            return {"type": kind, "op": op, "start": start, "end": end, "timezone": timezone}
        if op == "never":
            return {"type": kind, "op": op}
        return {"type": kind, "op": op, "days": int(value("days", 30))}
    if kind == "custom_field":
        return _field_document(node_id)
    if kind == "conversation_count":
        document = {"type": kind, "op": value("op", "eq"), "value": int(value("count", 1))}
        if value("windowed", False):
            document["within_days"] = int(value("window", 90))
        return document
    if kind == "rating":
        return {"type": kind, "measure": value("measure", "average"), "op": value("op", "eq"),
                "value": _number(value("rating", 4.0))}  # fmt: skip
    return {"type": kind}


def _field_document(node_id: str) -> dict[str, Any]:
    name = get(node_id, "field", "")
    if name == OTHER_FIELD:
        name = get(node_id, "other", "")
    ftype = get(node_id, "ftype", "text")
    op = get(node_id, "op", "eq")
    document: dict[str, Any] = {"type": "custom_field", "field": name, "op": op}
    if op in ("is_set", "is_not_set"):
        return document
    if op == "in":
        document["values"] = list(get(node_id, "texts", []))
    elif ftype == "number":
        document["value"] = _number(get(node_id, "number", 0.0))
    elif ftype == "date":
        document["value"] = _iso(get(node_id, "date"))
    elif ftype == "boolean":
        document["value"] = bool(get(node_id, "bool", True))
    else:
        document["value"] = get(node_id, "text", "")
    return document


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


_PATH_PART = re.compile(r"conditions\[(\d+)\]")


def describe_path(path: str) -> str:
    """``conditions[1].conditions[0].value`` -> ``Condition 2.1: value``."""
    numbers = [str(int(n) + 1) for n in _PATH_PART.findall(path)]
    rest = _PATH_PART.sub("", path).strip(".")
    if rest == "conditions":  # a group's own list: it is empty
        return f"Group {'.'.join(numbers)}" if numbers else "The conditions"
    where = f"Condition {'.'.join(numbers)}" if numbers else "Criteria"
    return f"{where}: {rest}" if rest else where
