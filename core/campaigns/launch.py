"""Launch: from a ready campaign to its outbox of rendered messages, in one transaction.

``launch_campaign`` validates (``core.campaigns.readiness``), resolves the audience ONCE,
renders every recipient's message into the exact Cloud API body
(``biz_opaque_callback_data`` = the message id), then moves the campaign to running with
the conditional UPDATE and bulk-inserts one ``campaign_messages`` row per recipient
(status pending, ``next_attempt_at`` = launch time) plus one ``campaign_exclusions`` row
per contact left out and why. Nothing is written before the validation passes, so a
refused launch leaves no trace; a second launch of the same campaign gets Conflict, and
the unique (campaign_id, phone) constraint is the last fence.

``start_due_campaign`` is the scheduled start, for the sensor.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, exists, insert, select
from sqlalchemy.orm import Session

from core import audit
from core.campaigns.audience import Audience, Exclusion, no_gc_pauses, resolve
from core.campaigns.lifecycle import check_allowed, transition
from core.campaigns.notify import notify_campaign
from core.campaigns.personalize import MissingValues, Personalizer, Recipient
from core.campaigns.readiness import (
    campaign_account,
    campaign_problems,
    campaign_template,
    size_warnings,
)
from core.campaigns.service import load
from core.errors import Conflict, InvalidInput
from core.permissions import SYSTEM_ACTOR, Actor, Permission, require
from core.settings import Settings
from sql.schema import Campaign, CampaignExclusion, CampaignMessage
from sql.types import utcnow

INSERT_BATCH = 5_000


@dataclass
class LaunchReport:
    campaign_id: uuid.UUID
    members: int
    recipients: int
    excluded: dict[str, int]
    seconds: float
    warnings: list[str] = field(default_factory=list)


# --- launch ---------------------------------------------------------------------------------


def _render(
    personalizer: Personalizer, recipients: list[Recipient], campaign_id: uuid.UUID, now: datetime
) -> tuple[list[dict[str, Any]], list[Exclusion]]:
    rows: list[dict[str, Any]] = []
    left_out: list[Exclusion] = []
    for recipient in recipients:
        message_id = uuid.uuid4()
        assert recipient.contact_id is not None
        try:
            payload = personalizer.payload(recipient, callback=str(message_id))
        except MissingValues as exc:
            labels = ", ".join(s.label for s in exc.slots)
            left_out.append(
                Exclusion(recipient.contact_id, recipient.phone, "missing_variable", labels)
            )
            continue
        except InvalidInput as exc:
            left_out.append(
                Exclusion(recipient.contact_id, recipient.phone, "invalid_content", exc.message)
            )
            continue
        rows.append(
            {
                "id": message_id,
                "campaign_id": campaign_id,
                "contact_id": recipient.contact_id,
                "phone": recipient.phone,
                "status": "pending",
                "rendered_content": payload,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows, left_out


def _insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Bulk-insert ``rows`` in the session's transaction: COPY on PostgreSQL, else batches."""
    if not rows:
        return
    if session.connection().dialect.name == "postgresql":
        _copy(session, table, rows)
        return
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(table), rows[start : start + INSERT_BATCH])


def _copy(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    # COPY is several times faster than multi-row INSERTs for 100,000 outbox rows.
    columns = list(rows[0])
    as_json = [isinstance(table.c[name].type, JSON) for name in columns]
    driver = session.connection().connection.driver_connection
    names = ", ".join(f'"{name}"' for name in columns)
    with (
        driver.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[name]) if encode else row[name]
                    for name, encode in zip(columns, as_json, strict=True)
                ]
            )


def launch_campaign(
    session: Session,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    settings: Settings,
    now: datetime | None = None,
    run_id: str | None = None,
) -> LaunchReport:
    """Start sending: resolve the audience once and fill the outbox (see module doc)."""
    require(actor, Permission.CAMPAIGN_WRITE)
    started = time.perf_counter()
    now = now or utcnow()
    campaign = load(session, campaign_id)
    check_allowed(campaign, "launch")
    problems = campaign_problems(session, campaign, now)
    if problems:
        raise InvalidInput(
            f"Campaign '{campaign.name}' cannot be sent yet: {' '.join(problems)}",
            [{"path": "campaign", "message": p} for p in problems],
        )
    account = campaign_account(session, campaign.whatsapp_account_id)
    assert account is not None and campaign.segment_id is not None
    with no_gc_pauses():
        audience = resolve(
            session,
            campaign.segment_id,
            now=now,
            cooldown_hours=settings.campaign_cooldown_hours,
            campaign_id=campaign.id,
        )
        personalizer = Personalizer.for_campaign(campaign, campaign_template(session, campaign))
        rows, left_out = _render(personalizer, audience.recipients, campaign.id, now)
        audience.exclusions += left_out
        excluded = audience.counts | {
            reason: sum(1 for e in left_out if e.reason == reason)
            for reason in ("missing_variable", "invalid_content")
        }
        if not rows:
            who = _left_out(audience, excluded)
            raise InvalidInput(f"Campaign '{campaign.name}' has no one to send to: {who}.")
        if session.scalar(select(exists().where(CampaignMessage.campaign_id == campaign_id))):
            raise Conflict(
                f"Campaign '{campaign.name}' already has messages; it was launched before."
            )
        # Everything above only read: the conditional UPDATE is the fence between runs.
        campaign = transition(session, campaign_id, "launch", now=now, values={"run_id": run_id})
        _insert(session, CampaignMessage.__table__, rows)
        _insert(session, CampaignExclusion.__table__, _exclusion_rows(campaign_id, audience, now))
    _record_counts(campaign, account.id, len(rows), excluded)
    session.flush()
    audit.record(
        session, actor, "campaign.launch", "campaign", campaign_id,
        {"name": campaign.name, "recipients": len(rows), "members": audience.members,
         "excluded": excluded, "run_id": run_id},
    )  # fmt: skip
    notify_campaign(session, campaign, "started", settings=settings, now=now)
    return LaunchReport(
        campaign_id,
        audience.members,
        len(rows),
        excluded,
        time.perf_counter() - started,
        size_warnings(len(rows), account, settings),
    )


def _left_out(audience: Audience, excluded: dict[str, int]) -> str:
    parts = [f"{n:,} {reason.replace('_', ' ')}" for reason, n in excluded.items() if n]
    return ", ".join([f"{audience.members:,} segment members", *parts])


def _exclusion_rows(
    campaign_id: uuid.UUID, audience: Audience, now: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "campaign_id": campaign_id,
            "contact_id": e.contact_id,
            "phone": e.phone[:40],
            "reason": e.reason,
            "detail": e.detail,
            "created_at": now,
        }
        for e in audience.exclusions
    ]


def _record_counts(
    campaign: Campaign, account_id: uuid.UUID, recipients: int, excluded: dict[str, int]
) -> None:
    campaign.whatsapp_account_id = account_id
    campaign.total_recipients = recipients
    campaign.excluded_opted_out = excluded["opted_out"]
    campaign.excluded_cooldown = excluded["cooldown"]
    campaign.excluded_invalid_phone = excluded["invalid_phone"]
    campaign.excluded_duplicate_phone = excluded["duplicate_phone"]
    campaign.excluded_missing_variable = excluded["missing_variable"]
    campaign.excluded_invalid_content = excluded["invalid_content"]


def start_due_campaign(
    session: Session,
    campaign_id: uuid.UUID,
    *,
    settings: Settings,
    now: datetime | None = None,
    run_id: str | None = None,
) -> LaunchReport | None:
    """Launch a scheduled campaign whose time came (for the sensor), as Siaran itself.

    A campaign that can no longer be sent goes back to draft with the reason, and its
    owners are told; None then, and when another run launched it first.
    """
    now = now or utcnow()
    campaign = load(session, campaign_id)
    if campaign.status != "scheduled":
        return None
    try:
        return launch_campaign(
            session, SYSTEM_ACTOR, campaign_id, settings=settings, now=now, run_id=run_id
        )
    except Conflict:
        return None
    except InvalidInput as exc:
        # launch_campaign writes nothing before it refuses, so the session is clean here.
        reason = f"Could not start at its scheduled time: {exc.message}"
        try:
            campaign = transition(session, campaign_id, "unschedule", reason=reason, now=now)
        except Conflict:
            return None
        audit.record(
            session, SYSTEM_ACTOR, "campaign.unschedule", "campaign", campaign_id,
            {"name": campaign.name, "reason": reason},
        )  # fmt: skip
        notify_campaign(session, campaign, "not_started", settings=settings, reason=reason, now=now)
        return None
