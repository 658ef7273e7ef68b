"""The Campaign Builder's state in the browser session: the step and the draft's values.

Widgets come and go with the steps, and Streamlit forgets a widget's value once it is not
drawn. So the values live in a ``Draft`` in ``st.session_state``: each widget is primed from
the draft when it is drawn (``bind``) and its value is written back into the draft on every
run. Back and Next therefore keep everything entered, and ``Draft.campaign_fields`` turns
the draft into the fields ``core.campaigns`` expects. Every key starts with ``cb_``, so
``reset`` forgets the whole wizard at once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import streamlit as st

from core.campaigns import to_utc
from core.campaigns.content import personal_text, placeholders
from core.errors import InvalidInput
from sql.schema import Campaign

T = TypeVar("T")

PREFIX = "cb_"
WIDGET = "cb_w_"
DRAFT_KEY = "cb_draft"
STEP_KEY = "cb_step"
LOADED_KEY = "cb_loaded"  # the ?campaign= id the draft was loaded from
MEMO = "cb_memo_"
STEPS = ("Audience", "Message", "Schedule", "Review & send")
DEFAULT_TIMEZONE = "Asia/Jakarta"
DEFAULT_RATE = 20
MEDIA_TYPES = ("image", "document", "video")


@dataclass
class Draft:
    """Everything the owner has entered, in the shape of the wizard's widgets."""

    campaign_id: str | None = None  # set once the draft is stored
    status: str = "draft"
    name: str = ""
    description: str = ""
    segment_id: str | None = None
    message_type: str = "text"
    body: str = ""
    preview_url: bool = False
    media_source: str = "link"  # "link" or "upload"
    link: str = ""
    media_id: str = ""
    media_kind: str = ""  # the kind of the uploaded file
    media_name: str = ""  # the uploaded file's name, to show it back
    caption: str = ""
    filename: str = ""
    fallbacks: dict[str, str] = field(default_factory=dict)
    template_id: str | None = None
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    send_mode: str = "now"  # "now" or "later"
    send_date: date | None = None
    send_time: time = time(9, 0)
    timezone: str = DEFAULT_TIMEZONE
    rate_limit: int = DEFAULT_RATE
    expires: bool = False
    expiry_date: date | None = None
    expiry_time: time = time(23, 59)

    # --- from stored campaigns and saved messages ----------------------------------------

    @classmethod
    def from_campaign(cls, campaign: Campaign) -> Draft:
        draft = cls(
            campaign_id=str(campaign.id),
            status=campaign.status,
            name=campaign.name,
            description=campaign.description or "",
            segment_id=str(campaign.segment_id) if campaign.segment_id else None,
            rate_limit=campaign.rate_limit,
            timezone=campaign.timezone or DEFAULT_TIMEZONE,
        )
        draft.apply_message(
            campaign.message_type,
            campaign.message_content or {},
            campaign.whatsapp_template_id,
            campaign.template_variables or {},
        )
        zone = ZoneInfo(draft.timezone)
        if campaign.status == "scheduled" and campaign.scheduled_at is not None:
            start = campaign.scheduled_at.astimezone(zone)
            draft.send_mode, draft.send_date, draft.send_time = "later", start.date(), start.time()
        if campaign.expires_at is not None:
            end = campaign.expires_at.astimezone(zone)
            draft.expires, draft.expiry_date, draft.expiry_time = True, end.date(), end.time()
        return draft

    def apply_message(
        self,
        message_type: str,
        content: dict[str, Any],
        template_id: uuid.UUID | None,
        variables: dict[str, Any],
    ) -> None:
        """Take over a stored message (a campaign's or a saved message's)."""
        self.message_type = message_type
        self.body = str(content.get("body") or "")
        self.preview_url = bool(content.get("preview_url"))
        self.link = str(content.get("link") or "")
        self.media_id = str(content.get("media_id") or "")
        self.media_source = "upload" if self.media_id else "link"
        self.media_kind = message_type if self.media_id else ""
        self.media_name = str(content.get("filename") or "") if self.media_id else ""
        self.caption = str(content.get("caption") or "")
        self.filename = str(content.get("filename") or "")
        self.fallbacks = {str(k): str(v) for k, v in (content.get("fallbacks") or {}).items()}
        self.template_id = str(template_id) if template_id else None
        self.variables = {
            str(key): {k: str(v) for k, v in spec.items() if v is not None}
            for key, spec in variables.items()
            if isinstance(spec, dict)
        }

    # --- to the core's fields -------------------------------------------------------------

    def message_content(self) -> dict[str, Any]:
        kind = self.message_type
        content: dict[str, Any] = {}
        if kind == "text":
            content["body"] = self.body
            if self.preview_url:
                content["preview_url"] = True
        elif kind in MEDIA_TYPES:
            if self.media_source == "link" and self.link.strip():
                content["link"] = self.link.strip()
            elif self.media_source == "upload" and self.media_id and self.media_kind == kind:
                content["media_id"] = self.media_id
            if self.caption.strip():
                content["caption"] = self.caption
            if kind == "document" and self.filename.strip():
                content["filename"] = self.filename.strip()
        else:
            return content
        used = placeholders(personal_text(kind, content))
        fallbacks = {
            n: self.fallbacks[n].strip() for n in used if self.fallbacks.get(n, "").strip()
        }
        if fallbacks:
            content["fallbacks"] = fallbacks
        return content

    def template_variables(self) -> dict[str, dict[str, str]]:
        if self.message_type != "template":
            return {}
        chosen: dict[str, dict[str, str]] = {}
        for key, spec in self.variables.items():
            value = spec.get("value", "").strip()
            if not value:
                continue
            mapping = {"source": spec.get("source", "fixed"), "value": value}
            fallback = spec.get("fallback", "").strip()
            if mapping["source"] == "field" and fallback:
                mapping["fallback"] = fallback
            chosen[key] = mapping
        return chosen

    def start_utc(self) -> datetime | None:
        """The scheduled start in UTC (InvalidInput for a time that does not exist)."""
        if self.send_mode != "later" or self.send_date is None:
            return None
        return to_utc(self.send_date, self.send_time, self.timezone)

    def expires_at(self) -> datetime | None:
        """The expiry in UTC, or None; InvalidInput (path ``expires_at``) if it cannot be."""
        if not self.expires:
            return None
        if self.expiry_date is None:
            raise InvalidInput(
                "Choose the expiry date, or turn the expiry off.",
                [{"path": "expires_at", "message": "no date"}],
            )
        try:
            return to_utc(self.expiry_date, self.expiry_time, self.timezone)
        except InvalidInput as exc:
            raise InvalidInput(
                f"Expiry: {exc.message}", [{"path": "expires_at", "message": exc.message}]
            ) from None

    def campaign_fields(self) -> dict[str, Any]:
        """The draft as ``core.campaigns.CampaignFields`` input (InvalidInput: see expiry)."""
        template = self.message_type == "template" and self.template_id
        return {
            "name": self.name.strip() or None,
            "description": self.description.strip() or None,
            "segment_id": uuid.UUID(self.segment_id) if self.segment_id else None,
            "message_type": self.message_type,
            "message_content": self.message_content(),
            "whatsapp_template_id": uuid.UUID(self.template_id) if template else None,
            "template_variables": self.template_variables(),
            "rate_limit": self.rate_limit,
            "expires_at": self.expires_at(),
        }

    def signature(self, *extra: Any) -> str:
        """A stable text of the values (and ``extra``), to tell when a check is stale."""
        values = dict(vars(self))
        return json.dumps([values, extra], default=str, sort_keys=True)


# --- the session ------------------------------------------------------------------------


def draft() -> Draft:
    found = st.session_state.get(DRAFT_KEY)
    if not isinstance(found, Draft):
        found = Draft()
        st.session_state[DRAFT_KEY] = found
    return found


def load(new: Draft, loaded_from: str | None = None) -> None:
    """Start the wizard over on ``new`` (a reopened campaign, or a blank draft)."""
    reset()
    st.session_state[DRAFT_KEY] = new
    st.session_state[LOADED_KEY] = loaded_from


def loaded_from() -> str | None:
    return st.session_state.get(LOADED_KEY)


def remember_stored(campaign_id: uuid.UUID) -> None:
    """The draft is now stored under ``campaign_id``; reloading the page keeps editing it."""
    draft().campaign_id = str(campaign_id)
    st.session_state[LOADED_KEY] = str(campaign_id)
    st.query_params["campaign"] = str(campaign_id)


def step() -> int:
    return min(max(int(st.session_state.get(STEP_KEY, 0)), 0), len(STEPS) - 1)


def go(number: int) -> None:
    st.session_state[STEP_KEY] = min(max(number, 0), len(STEPS) - 1)


def reset() -> None:
    """Forget the whole wizard (its draft, step, widgets and checks)."""
    for key in [k for k in st.session_state if str(k).startswith(PREFIX)]:
        del st.session_state[key]


def forget_widgets(prefix: str = "") -> None:
    """Drop widget values (starting with ``prefix``) so they are primed from the draft again."""
    start = WIDGET + prefix
    for key in [k for k in st.session_state if str(k).startswith(start)]:
        del st.session_state[key]


def bind(name: str, value: Any) -> str:
    """The widget key for ``name``, primed with the draft's ``value`` when the widget is new."""
    key = WIDGET + name
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def memo(name: str, signature: str, compute: Callable[[], T]) -> T:
    """``compute()``, reused while ``signature`` stays the same (checks that read a lot)."""
    key = MEMO + name
    found = st.session_state.get(key)
    if isinstance(found, tuple) and found[0] == signature:
        return found[1]  # type: ignore[no-any-return]
    value = compute()
    st.session_state[key] = (signature, value)
    return value


def forget_memos(*names: str) -> None:
    """Drop the named memos (all of them when none is named), so they are computed again."""
    for key in [k for k in st.session_state if str(k).startswith(MEMO)]:
        if not names or str(key)[len(MEMO) :] in names:
            del st.session_state[key]
