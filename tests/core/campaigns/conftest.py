"""Fixtures for campaign tests: a connected account and a small shop ready for a campaign."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from core.bootstrap import Siaran
from core.db import UnitOfWork
from core.permissions import Actor
from core.settings import Settings
from tests.core.campaigns import builders


@dataclass
class Shop:
    """Ids of the rows a campaign test starts from."""

    account_id: uuid.UUID
    segment_id: uuid.UUID
    contacts: dict[str, uuid.UUID]
    campaign_id: uuid.UUID  # a text draft to the segment, created by the owner


@pytest.fixture
def shop(siaran: Siaran, uow: UnitOfWork, owner: Actor) -> Shop:
    with uow.begin() as session:
        account = builders.account(session, siaran.secrets)
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
            whatsapp_account_id=account.id,
            message_content={"body": "Halo {name} di {city}!", "fallbacks": {"city": "kota Anda"}},
            created_by=owner.id,
        )
        return Shop(account.id, segment.id, {c.name: c.id for c in people}, campaign.id)


@pytest.fixture
def quiet_settings(settings: Settings) -> Settings:
    """Settings without a cooldown, for tests about something else."""
    return settings.model_copy(update={"campaign_cooldown_hours": 0})
