"""Customers' consent to broadcasts: opting out, opting back in, and who is opted out.

Opt-outs arrive from the customer (a keyword such as STOP or BERHENTI, or the template's
"Stop promosi" button; see ``core.keywords``) and from Meta (a 131050 failure or a
``user_preferences`` stop). They are recorded on ``contact_preferences`` with the time,
the reason and the source, and every launch leaves opted-out contacts out. An opt-in
keyword (START, MULAI) or an owner (``opt_in_contact``, with a reason, audited) undoes it.

Order-proof: a change applies only when it is newer than the last change the other way
(``opted_in_at`` / ``opted_out_at``), so a STOP and a START delivered in the wrong order
leave the customer as they last asked. Repeats change nothing (and are not audited again).

Unknown numbers: a consent change from a number that is no contact creates a minimal
contact (the WhatsApp profile name, or the number) so the choice is kept: a later import
merges into it by phone and the preference stays.

Sources: ``keyword`` (typed), ``button`` (tapped), ``meta_marketing_opt_out`` (Meta's
131050 status or ``user_preferences``), ``whatsapp`` (a 131050 the sender got directly).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from core import audit
from core.campaign_counters import Deltas
from core.errors import Conflict, InvalidInput, NotFound
from core.pages import Page
from core.permissions import SYSTEM_ACTOR, Actor, Permission, require
from core.phones import mask_phone
from core.upsert import insert
from sql.schema import CampaignMessage, Contact, ContactPreference
from sql.types import utcnow

SOURCE_KEYWORD = "keyword"
SOURCE_BUTTON = "button"
SOURCE_META = "meta_marketing_opt_out"
#: What the sender records for a 131050 answered synchronously (``sender.outbox``).
SOURCE_SENDER = "whatsapp"
#: Where Meta itself stopped marketing messages; its "resume" reopens these, never a STOP.
SOURCES_META_STOPPED = (SOURCE_META, SOURCE_SENDER)
SOURCES = (SOURCE_KEYWORD, SOURCE_BUTTON, SOURCE_META, SOURCE_SENDER)
MAX_PAGE_SIZE = 500
MAX_REASON_LENGTH = 500
_E164 = re.compile(r"\+[1-9]\d{5,14}")


@dataclass(frozen=True)
class ConsentChange:
    """A customer opting out (``opt_out``) or back in, as WhatsApp told us."""

    phone: str  # E.164
    opt_out: bool
    at: datetime
    source: str
    reason: str
    contact_id: uuid.UUID | None = None
    profile_name: str | None = None
    # The campaign message this opt-out answers (counted in its campaign's opted_out_count).
    message_id: uuid.UUID | None = None
    # Opt back in only if the current opt-out came from one of these (Meta's "resume").
    only_from_sources: tuple[str, ...] | None = None


def phone_from_wa_id(wa_id: str) -> str | None:
    """``"6281234567890"`` -> ``"+6281234567890"``; None when it is not a phone number."""
    candidate = "+" + wa_id.strip().lstrip("+")
    return candidate if _E164.fullmatch(candidate) else None


def apply_changes(
    session: Session, changes: Sequence[ConsentChange], deltas: Deltas, now: datetime
) -> list[tuple[ConsentChange, uuid.UUID]]:
    """Record ``changes`` (per number, in time order); returns those that changed a state.

    Numbers are taken in one order (by phone) so concurrent batches lock contacts and
    preferences in the same order and never deadlock each other.
    """
    applied: list[tuple[ConsentChange, uuid.UUID]] = []
    for change in sorted(changes, key=lambda c: (c.phone, c.at)):
        contact_id = change.contact_id or _contact_for(session, change, now)
        if change.opt_out:
            if _opt_out(session, contact_id, change, now):
                applied.append((change, contact_id))
            if change.message_id is not None:
                _attribute(session, change.message_id, change.at, deltas)
        elif _opt_in(session, contact_id, change, now):
            applied.append((change, contact_id))
    return applied


def _contact_for(session: Session, change: ConsentChange, now: datetime) -> uuid.UUID:
    table = Contact.__table__
    found = session.scalar(select(table.c.id).where(table.c.phone == change.phone))
    if found is not None:
        return found
    new_id = uuid.uuid4()
    name = (change.profile_name or change.phone)[:200]
    session.execute(
        insert(session, table)
        .values(id=new_id, name=name, phone=change.phone, custom_fields={},
                created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["phone"])
    )  # fmt: skip
    contact_id = session.scalar(select(table.c.id).where(table.c.phone == change.phone))
    assert contact_id is not None
    if contact_id == new_id:
        audit.record(
            session, SYSTEM_ACTOR, "contact.create", "contact", contact_id,
            {"phone": mask_phone(change.phone), "why": "consent change from an unknown number",
             "source": change.source},
        )  # fmt: skip
    return contact_id


def _opt_out(session: Session, contact_id: uuid.UUID, change: ConsentChange, now: datetime) -> bool:
    table = ContactPreference.__table__
    statement = insert(session, table).values(
        contact_id=contact_id,
        opted_out=True,
        opted_out_at=change.at,
        opt_out_reason=change.reason[:MAX_REASON_LENGTH],
        opt_out_source=change.source,
        updated_at=now,
    )
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["contact_id"],
        set_={
            "opted_out": True,
            "opted_out_at": excluded.opted_out_at,
            "opt_out_reason": excluded.opt_out_reason,
            "opt_out_source": excluded.opt_out_source,
            "updated_at": excluded.updated_at,
        },
        where=(table.c.opted_out.is_(False))
        & (table.c.opted_in_at.is_(None) | (table.c.opted_in_at < excluded.opted_out_at)),
    ).returning(table.c.contact_id)
    if session.scalar(statement) is None:
        return False
    audit.record(
        session, SYSTEM_ACTOR, "contact.opt_out", "contact", contact_id,
        {"source": change.source, "reason": change.reason, "at": change.at.isoformat()},
    )  # fmt: skip
    return True


def _opt_in(session: Session, contact_id: uuid.UUID, change: ConsentChange, now: datetime) -> bool:
    table = ContactPreference.__table__
    newer = table.c.opted_out_at.is_(None) | (table.c.opted_out_at < change.at)
    condition = table.c.opted_out.is_(True) & newer
    if change.only_from_sources is not None:
        condition = condition & table.c.opt_out_source.in_(change.only_from_sources)
    reopened = session.execute(
        update(table)
        .where(table.c.contact_id == contact_id, condition)
        .values(opted_out=False, opted_in_at=change.at, opted_in_by=None, updated_at=now)
    ).rowcount
    if not reopened:
        # Not opted out (or an older opt-out): remember the request, so an opt-out that
        # happened before it but arrives after it does not win.
        statement = insert(session, table).values(
            contact_id=contact_id, opted_out=False, opted_in_at=change.at, updated_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=["contact_id"],
            set_={"opted_in_at": statement.excluded.opted_in_at},
            where=(table.c.opted_out.is_(False))
            & (
                table.c.opted_in_at.is_(None)
                | (table.c.opted_in_at < statement.excluded.opted_in_at)
            ),
        )
        session.execute(statement)
        return False
    audit.record(
        session, SYSTEM_ACTOR, "contact.opt_in", "contact", contact_id,
        {"source": change.source, "reason": change.reason, "at": change.at.isoformat()},
    )  # fmt: skip
    return True


def _attribute(session: Session, message_id: uuid.UUID, at: datetime, deltas: Deltas) -> None:
    """Count the opt-out once for the campaign whose message it answered."""
    table = CampaignMessage.__table__
    campaign_id = session.scalar(
        update(table)
        .where(table.c.id == message_id, table.c.opted_out_at.is_(None))
        .values(opted_out_at=at)
        .returning(table.c.campaign_id)
    )
    if campaign_id is not None:
        deltas.add(campaign_id, "opted_out")


# --- owners and supervisors ---------------------------------------------------------------


@dataclass(frozen=True)
class OptOutView:
    contact_id: uuid.UUID
    name: str
    phone: str  # masked unless the actor may see phone numbers
    opted_out_at: datetime | None
    reason: str | None
    source: str | None


OptOutPage = Page[OptOutView]


def list_opt_outs(
    session: Session,
    actor: Actor,
    *,
    search: str = "",
    source: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> OptOutPage:
    """Opted-out contacts, most recent first; search by name (and number, if allowed)."""
    require(actor, Permission.OPTOUT_READ)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must not be negative, got {offset}")
    if source is not None and source not in SOURCES:
        raise InvalidInput(f"Unknown opt-out source {source!r}; expected {', '.join(SOURCES)}.")
    if since is not None and until is not None and since > until:
        raise InvalidInput("since must not be after until")
    unmasked = actor.can(Permission.PHONE_UNMASKED)
    conditions: list[ColumnElement[bool]] = [ContactPreference.opted_out.is_(True)]
    search = (search or "").strip()
    if len(search) > 200:
        raise InvalidInput("search text must be at most 200 characters")
    if search:
        conditions.append(_search(search, unmasked))
    if source is not None:
        conditions.append(ContactPreference.opt_out_source == source)
    if since is not None:
        conditions.append(ContactPreference.opted_out_at >= since)
    if until is not None:
        conditions.append(ContactPreference.opted_out_at <= until)
    base = select(Contact, ContactPreference).join(
        ContactPreference, ContactPreference.contact_id == Contact.id
    )
    total = session.scalar(
        select(func.count()).select_from(base.where(*conditions).subquery())
    ) or 0  # fmt: skip
    rows = session.execute(
        base.where(*conditions)
        .order_by(ContactPreference.opted_out_at.desc(), Contact.id)
        .limit(limit)
        .offset(offset)
    ).all()
    items = [
        OptOutView(
            contact.id,
            contact.name,
            contact.phone if unmasked else mask_phone(contact.phone),
            preference.opted_out_at,
            preference.opt_out_reason,
            preference.opt_out_source,
        )
        for contact, preference in rows
    ]
    return OptOutPage(items, int(total), limit, offset)


def _search(text: str, unmasked: bool) -> ColumnElement[bool]:
    by_name = Contact.name.icontains(text, autoescape=True)
    digits = re.sub(r"\D", "", text)
    if not digits or not unmasked:
        return by_name
    if digits.startswith("0"):  # local Indonesian form 0812... is stored as +62812...
        digits = "62" + digits[1:]
    return by_name | Contact.phone.contains(digits, autoescape=True)


def opt_in_contact(
    session: Session,
    actor: Actor,
    contact_id: uuid.UUID,
    *,
    reason: str,
    now: datetime | None = None,
) -> ContactPreference:
    """An owner opts a customer back in (they asked through another channel); audited."""
    require(actor, Permission.OPTOUT_MANAGE)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "Say why this customer may receive broadcasts again (e.g. how they asked).",
            [{"path": "reason", "message": "must not be empty"}],
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"The reason must be at most {MAX_REASON_LENGTH} characters.",
                           [{"path": "reason", "message": "too long"}])  # fmt: skip
    now = now or utcnow()
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"Contact {contact_id} does not exist.")
    preference = session.get(ContactPreference, contact_id)
    if preference is None or not preference.opted_out:
        raise Conflict(f"{contact.name} is not opted out.")
    previous = {
        "opted_out_at": preference.opted_out_at.isoformat() if preference.opted_out_at else None,
        "opt_out_reason": preference.opt_out_reason,
        "opt_out_source": preference.opt_out_source,
    }
    changed = session.execute(
        update(ContactPreference)
        .where(ContactPreference.contact_id == contact_id, ContactPreference.opted_out.is_(True))
        .values(opted_out=False, opted_in_at=now, opted_in_by=actor.id, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise Conflict(f"{contact.name} is not opted out.")
    audit.record(
        session, actor, "contact.opt_in", "contact", contact_id,
        {"reason": reason, "source": "manual", "previous": previous},
    )  # fmt: skip
    session.refresh(preference)
    return preference
