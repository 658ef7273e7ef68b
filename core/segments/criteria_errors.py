"""How invalid criteria are reported: ``conditions[1].start: expected a date (YYYY-MM-DD)``.

Pydantic's error locations include the tags of discriminated unions and its messages name
Python types; these helpers turn them into the paths and words of the criteria document.
"""

from __future__ import annotations

from typing import Any


def summary(errors: list[dict[str, str]]) -> str:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"Invalid segment criteria: {first['path']}: {first['message']}{more}"


_MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "union_tag_not_found": "missing 'type'",
    "model_attributes_type": "expected an object",
    "model_type": "expected an object",
    "dict_type": "expected an object",
    "list_type": "expected a list",
    "string_type": "expected a text",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "string_too_short": "must not be empty",
}


def message(error: Any) -> str:
    """A short message for one Pydantic error, in the words of the criteria language."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "union_tag_invalid":
        what = "condition type" if ctx.get("discriminator") == "'type'" else "op"
        return f"unknown {what} {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} items"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    return str(error["msg"])


_NESTED_UNIONS = {"last_interaction"}


def clean_path(loc: tuple[Any, ...], document: object) -> str:
    """Pydantic's ``loc`` as ``conditions[1].value``, without the union tags it inserts."""
    parts: list[str] = []
    current: Any = document
    at_node = True
    items = list(loc)
    i = 0
    while i < len(items):
        if at_node and isinstance(current, dict):
            # A discriminated union adds the tag it chose: the type, then the op for nested ones.
            kind = current.get("type")
            tags = [kind, current.get("op")] if kind in _NESTED_UNIONS else [kind]
            for tag in tags:
                if i < len(items) and isinstance(items[i], str) and items[i] == tag:
                    i += 1
            at_node = False
            continue
        item = items[i]
        if isinstance(item, int):
            label = f"[{item}]"
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
            in_conditions = bool(parts) and parts[-1].startswith("conditions[")
            valid = isinstance(current, list) and 0 <= item < len(current)
            current = current[item] if valid else None
            at_node = in_conditions
        else:
            parts.append(str(item))
            current = current.get(item) if isinstance(current, dict) else None
            at_node = False
        i += 1
    return ".".join(parts) or "criteria"
