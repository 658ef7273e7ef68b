"""Helpers of the campaign pipeline tests: accounts, small campaigns, runs, live workers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import dagster as dg
import httpx
from sqlalchemy.orm import Session

from core.bootstrap import Siaran
from core.sandbox_account import connect_sandbox_if_unconnected
from core.sending import run_config, run_tags
from pipelines.definitions import defs
from sandbox import SandboxServer
from sql.schema import Campaign, Contact, SenderWorker
from sql.types import utcnow
from tests.core.campaigns import builders


def connect(siaran: Siaran, sandbox: SandboxServer) -> uuid.UUID:
    """Connect the sandbox as the WhatsApp account; its id."""
    connect_sandbox_if_unconnected(siaran, sandbox.url)
    with siaran.uow.session() as session:
        from core.whatsapp import active_account

        account = active_account(session)
        assert account is not None
        return account.id


def small_campaign(
    session: Session, account_id: uuid.UUID | None, *, people: int = 3, **values: Any
) -> Campaign:
    """A text campaign to a static segment of ``people`` fresh contacts."""
    tag = uuid.uuid4().hex[:6]
    block = 1_000 + int(tag, 16) % 9_000  # never 0000: the sandbox's "not on WhatsApp"
    contacts: list[Contact] = [
        builders.contact(session, f"Pelanggan {i}", f"+62812{i:04d}{block}")
        for i in range(1, people + 1)
    ]
    segment = builders.static_segment(session, f"Segmen {tag}", contacts)
    values.setdefault("message_content", {"body": "Halo {name}, ada promo!"})
    return builders.campaign(
        session,
        values.pop("name", f"Promo {tag}"),
        segment_id=segment.id,
        whatsapp_account_id=account_id,
        **values,
    )


def add_run(
    instance: dg.DagsterInstance,
    campaign_id: uuid.UUID,
    status: dg.DagsterRunStatus,
    trigger: str = "schedule",
) -> str:
    """A ``send_campaign`` run of the campaign in the instance, in ``status``; its id."""
    run = instance.create_run_for_job(
        job_def=defs.get_job_def("send_campaign"),
        run_config=run_config(campaign_id),
        tags=run_tags(campaign_id, trigger),
        status=status,
    )
    return run.run_id


def live_worker(
    session: Session, campaign: Campaign, *, at: datetime | None = None, pid: int | None = None
) -> None:
    """A sender worker of this process serving the campaign, beating at ``at``."""
    import os

    from sender.workers import HOSTNAME

    now = at or utcnow()
    session.add(
        SenderWorker(
            id=f"test:{uuid.uuid4().hex[:8]}",
            hostname=HOSTNAME,
            pid=pid or os.getpid(),
            account_id=campaign.whatsapp_account_id or uuid.uuid4(),
            campaign_id=campaign.id,
            started_at=now,
            heartbeat_at=now,
        )
    )
    session.flush()


def sandbox_messages(sandbox: SandboxServer) -> list[dict[str, Any]]:
    """Every message the sandbox accepted, oldest first."""
    response = httpx.get(f"{sandbox.url}/_sandbox/messages", params={"limit": 10_000})
    response.raise_for_status()
    return response.json()["data"]
