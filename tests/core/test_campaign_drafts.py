"""The builder's drafts: checked without a trace, saved, reopened, duplicated; contact fields."""

from __future__ import annotations

import uuid
from datetime import date, time

import pytest
from sqlalchemy import func, select

from core.bootstrap import Siaran
from core.campaign_drafts import (
    check_values,
    contact_fields,
    duplicate_campaign,
    open_draft,
    save_draft,
    segment_choices,
)
from core.campaigns import create_campaign, schedule_campaign
from core.db import UnitOfWork
from core.errors import Conflict, PermissionDenied
from core.permissions import Actor
from sql.schema import AuditLog, Campaign, WhatsAppAccount
from tests.core.campaigns import builders


@pytest.fixture
def segment_id(siaran: Siaran, uow: UnitOfWork) -> uuid.UUID:
    with uow.begin() as session:
        builders.account(session, siaran.secrets)
        people = [
            builders.contact(session, "Ani", "+6281100000001", city="Bandung", tier="gold"),
            builders.contact(session, "Budi", "+6281100000002", **{"bad key": 1}),
        ]
        return builders.static_segment(session, "Pelanggan", people).id


def counts(uow: UnitOfWork) -> tuple[int, int]:
    with uow.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Campaign)) or 0,
            session.scalar(select(func.count()).select_from(AuditLog)) or 0,
        )


def values(segment_id: uuid.UUID | None, **changes: object) -> dict[str, object]:
    return {
        "name": "Promo",
        "segment_id": segment_id,
        "message_type": "text",
        "message_content": {"body": "Halo {name} di {city}!"},
        "template_variables": {},
        "rate_limit": 20,
    } | changes


def test_checking_values_previews_and_reports_but_stores_nothing(
    siaran: Siaran, uow: UnitOfWork, owner: Actor, segment_id: uuid.UUID
) -> None:
    before = counts(uow)
    check = check_values(uow, owner, values(segment_id), settings=siaran.settings, readiness=True)
    assert counts(uow) == before
    assert check.valid and check.message_problems == []
    assert check.preview is not None and check.preview.text == "Halo Ani di Bandung!"
    assert check.bubble is not None and check.bubble.body == "Halo Ani di Bandung!"
    assert check.readiness is not None and check.readiness.estimate is not None
    assert check.readiness.estimate.recipients == 2
    assert [str(m) for m in check.readiness.missing] == [
        "{city}: 1 of 2 recipients have no value and no fallback"
    ]


def test_malformed_values_come_back_as_errors_by_field(
    siaran: Siaran, uow: UnitOfWork, owner: Actor, segment_id: uuid.UUID
) -> None:
    before = counts(uow)
    bad = values(segment_id, message_type="image", message_content={"link": "ftp://x"})
    check = check_values(uow, owner, bad, settings=siaran.settings)
    assert not check.valid and check.preview is None
    assert check.errors == [
        {"path": "message_content.link", "message": "expected a public https:// address"}
    ]
    rate = check_values(uow, owner, values(segment_id, rate_limit=0), settings=siaran.settings)
    assert [e["path"] for e in rate.errors] == ["rate_limit"]
    empty = check_values(
        uow, owner, values(segment_id, message_content={"body": " "}), settings=siaran.settings
    )
    assert empty.valid and empty.message_problems == ["The message text is empty."]
    assert counts(uow) == before


def test_checking_a_stored_draft_leaves_it_as_it_was(
    siaran: Siaran, uow: UnitOfWork, owner: Actor, segment_id: uuid.UUID
) -> None:
    with uow.begin() as session:
        draft = save_draft(session, owner, values(segment_id)).id
    changed = values(segment_id, message_content={"body": "Baru untuk {name}"})
    check = check_values(uow, owner, changed, settings=siaran.settings, campaign_id=draft)
    assert check.preview is not None and check.preview.text == "Baru untuk Ani"
    with uow.session() as session:
        stored = session.get(Campaign, draft)
        assert stored is not None
        assert stored.message_content == {"body": "Halo {name} di {city}!"}


def test_a_template_preview_fills_header_body_and_buttons(
    siaran: Siaran, uow: UnitOfWork, owner: Actor, segment_id: uuid.UUID
) -> None:
    with uow.begin() as session:
        account = session.scalar(select(WhatsAppAccount))
        template = builders.template(session, account).id
    chosen = values(
        segment_id,
        message_type="template",
        message_content={},
        whatsapp_template_id=template,
        template_variables=builders.PROMO_VARIABLES,
    )
    check = check_values(uow, owner, chosen, settings=siaran.settings, readiness=True)
    assert check.bubble is not None
    assert check.bubble.header_media == {"type": "image", "value": "https://toko.test/promo.jpg"}
    assert check.bubble.body == "Halo Ani, diskon 20% untuk pelanggan di kota Anda!"
    # Ani has no voucher and that variable has no fallback: shown as its field, and reported.
    assert check.bubble.buttons[1]["url"] == "https://toko.test/p/{voucher}"
    assert check.readiness is not None
    assert [str(m) for m in check.readiness.missing] == [
        "button.1.1 ({voucher}): 2 of 2 recipients have no value and no fallback"
    ]


def test_saving_creates_then_updates_and_a_scheduled_campaign_goes_back_to_draft(
    siaran: Siaran, uow: UnitOfWork, owner: Actor, segment_id: uuid.UUID
) -> None:
    with uow.begin() as session:
        draft = save_draft(session, owner, values(segment_id)).id
    with uow.begin() as session:
        schedule_campaign(
            session, owner, draft, local_date=date(2099, 1, 2), local_time=time(9, 0),
            timezone="Asia/Jakarta", settings=siaran.settings,
        )  # fmt: skip
    with uow.begin() as session:
        saved = save_draft(session, owner, values(segment_id, name="Promo 2"), campaign_id=draft)
    assert saved.id == draft and saved.status == "draft" and saved.scheduled_at is None
    assert saved.name == "Promo 2"
    with uow.session() as session:
        actions = list(
            session.scalars(
                select(AuditLog.action)
                .where(AuditLog.target_id == str(draft))
                .order_by(AuditLog.created_at)
            )
        )
    assert actions == [
        "campaign.create", "campaign.schedule", "campaign.unschedule", "campaign.update"
    ]  # fmt: skip


def test_only_drafts_and_scheduled_campaigns_open_for_editing(
    uow: UnitOfWork, owner: Actor, supervisor: Actor, segment_id: uuid.UUID
) -> None:
    with uow.begin() as session:
        running = builders.campaign(session, "Jalan", status="running").id
        draft = builders.campaign(session, "Draf").id
    with uow.session() as session:
        assert open_draft(session, owner, draft).name == "Draf"
        with pytest.raises(Conflict, match="'Jalan' is running; only drafts and scheduled"):
            open_draft(session, owner, running)
        with pytest.raises(Conflict):
            save_draft(session, owner, values(segment_id), campaign_id=running)
        with pytest.raises(PermissionDenied):
            open_draft(session, supervisor, draft)


def test_duplicating_copies_the_message_under_a_new_name(
    uow: UnitOfWork, owner: Actor, segment_id: uuid.UUID
) -> None:
    with uow.begin() as session:
        source = create_campaign(session, owner, values(segment_id, rate_limit=42)).id
        session.execute(
            Campaign.__table__.update()
            .where(Campaign.id == source)
            .values(status="completed", sent_count=2)
        )
    with uow.begin() as session:
        first = duplicate_campaign(session, owner, source)
        second = duplicate_campaign(session, owner, source)
    assert (first.name, second.name) == ("Promo (copy)", "Promo (copy 2)")
    assert first.status == "draft" and first.sent_count == 0 and first.rate_limit == 42
    assert first.message_content == {"body": "Halo {name} di {city}!"}
    assert first.segment_id == segment_id
    with uow.session() as session:
        audited = session.scalar(
            select(AuditLog.details).where(
                AuditLog.action == "campaign.duplicate", AuditLog.target_id == str(first.id)
            )
        )
    assert audited is not None and audited["source_id"] == str(source)


def test_contact_fields_are_the_builtins_and_discovered_custom_fields(
    uow: UnitOfWork, owner: Actor, agent: Actor, segment_id: uuid.UUID
) -> None:
    with uow.session() as session:
        assert contact_fields(session, owner, segment_id=segment_id) == [
            "name",
            "phone",
            "city",
            "tier",
        ]  # fmt: skip  ("bad key" cannot be a {placeholder})
        assert [s.name for s in segment_choices(session, owner)] == ["Pelanggan"]
        with pytest.raises(PermissionDenied):
            contact_fields(session, agent)
        with pytest.raises(PermissionDenied):
            segment_choices(session, agent)
