"""Rows the campaign API tests start from: a shop with contacts, a segment and a draft.

``no_dagster`` is the ``siaran`` these tests use: Dagster explicitly not configured, so
"Send now" takes the local path whatever the machine's environment says.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from core.bootstrap import Siaran
from core.permissions import Actor
from core.settings import Settings
from tests.core.campaigns import builders


def no_dagster(settings: Settings, engine: Engine) -> Siaran:
    """The composition root with Dagster explicitly off (requests go to a local thread)."""
    quiet = settings.model_copy(update={"dagster_home": None, "dagster_url": None})
    return Siaran(settings=quiet, engine=engine)


@dataclass
class Shop:
    account_id: uuid.UUID | None
    segment_id: uuid.UUID
    contacts: dict[str, uuid.UUID]
    campaign_id: uuid.UUID  # a ready text draft to the segment


def open_shop(siaran: Siaran, owner: Actor, *, account_id: uuid.UUID | None = None) -> Shop:
    """Three customers (one without a city), a static segment and a ready draft."""
    with siaran.uow.begin() as session:
        if account_id is None:
            account_id = builders.account(session, siaran.secrets).id
        people = [
            builders.contact(session, "Ani", "+6281100000001", city="Bandung"),
            builders.contact(session, "Budi", "+6281100000002", city="Jakarta"),
            builders.contact(session, "Citra", "+6281100000003"),
        ]
        segment = builders.static_segment(session, "Pelanggan", people)
        campaign = builders.campaign(
            session,
            "Promo",
            segment_id=segment.id,
            whatsapp_account_id=account_id,
            message_content={"body": "Halo {name} di {city}!", "fallbacks": {"city": "kota Anda"}},
            created_by=owner.id,
        )
        return Shop(account_id, segment.id, {c.name: c.id for c in people}, campaign.id)


def in_status(siaran: Siaran, status: str, **values: Any) -> uuid.UUID:
    """A campaign in ``status`` (inserted directly), for transition tests."""
    with siaran.uow.begin() as session:
        return builders.campaign(session, f"Campaign {status}", status=status, **values).id


def wait_for(
    check: Callable[[], bool], timeout: float = 20.0, every: float = 0.05, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(every)


def campaign(api: httpx.Client, campaign_id: uuid.UUID) -> dict[str, Any]:
    response = api.get(f"/api/campaigns/{campaign_id}")
    assert response.status_code == 200, response.text
    return response.json()


def tomorrow() -> date:
    return date.today() + timedelta(days=1)


def nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (6 - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def next_us_dst_days() -> tuple[date, date]:
    """The next spring-forward and fall-back days in the United States, both in the future."""
    year = date.today().year + 1
    return nth_sunday(year, 3, 2), nth_sunday(year, 11, 1)
