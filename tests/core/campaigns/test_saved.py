"""Saved reusable messages (campaign_templates): CRUD, permissions, audit, use."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from core.campaigns.saved import (
    campaign_from_saved_message,
    create_saved_message,
    delete_saved_message,
    get_saved_message,
    list_saved_messages,
    update_saved_message,
)
from core.db import UnitOfWork
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from core.permissions import Actor
from sql.schema import AuditLog
from tests.core.campaigns import builders
from tests.core.campaigns.conftest import Shop


def test_save_list_change_and_delete(
    uow: UnitOfWork, owner: Actor, supervisor: Actor, agent: Actor
) -> None:
    with uow.begin() as session:
        saved = create_saved_message(
            session,
            owner,
            {
                "name": "Sapaan",
                "description": "Salam pembuka",
                "content": {"body": "Halo {name}!", "fallbacks": {"name": "Kak"}},
            },
        )
    with uow.session() as session:
        assert [s.name for s in list_saved_messages(session, supervisor)] == ["Sapaan"]
        assert get_saved_message(session, supervisor, saved.id).content["body"] == "Halo {name}!"
        with pytest.raises(PermissionDenied):
            list_saved_messages(session, agent)
        with pytest.raises(PermissionDenied):
            create_saved_message(session, supervisor, {"name": "x"})
    with uow.begin() as session:
        changed = update_saved_message(
            session, owner, saved.id, {"content": {"body": "Hai {name}"}, "name": "Sapa"}
        )
    assert changed.name == "Sapa" and changed.content == {"body": "Hai {name}"}
    with uow.begin() as session:
        delete_saved_message(session, owner, saved.id)
    with uow.session() as session:
        with pytest.raises(NotFound):
            get_saved_message(session, owner, saved.id)
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.target_id == str(saved.id))
        ).all()
    assert actions == [
        "campaign_template.create",
        "campaign_template.update",
        "campaign_template.delete",
    ]


def test_names_are_unique_and_content_is_checked(uow: UnitOfWork, owner: Actor) -> None:
    with uow.begin() as session:
        create_saved_message(session, owner, {"name": "Sapaan"})
    with uow.begin() as session, pytest.raises(Conflict, match="already exists"):
        create_saved_message(session, owner, {"name": "sapaan"})
    with uow.begin() as session, pytest.raises(InvalidInput, match=r"message_content\.caption"):
        create_saved_message(session, owner, {"name": "Teks", "content": {"caption": "x"}})
    with uow.begin() as session:
        saved = create_saved_message(session, owner, {"name": "Gambar", "message_type": "image"})
    with uow.begin() as session, pytest.raises(InvalidInput, match="https"):
        update_saved_message(session, owner, saved.id, {"content": {"link": "ftp://x"}})
    with uow.session() as session:
        assert get_saved_message(session, owner, saved.id).content == {}


def test_a_campaign_starts_from_a_saved_message(uow: UnitOfWork, owner: Actor, shop: Shop) -> None:
    with uow.begin() as session:
        template = builders.template(session, None)
        saved = create_saved_message(
            session,
            owner,
            {
                "name": "Promo template",
                "message_type": "template",
                "whatsapp_template_id": template.id,
                "variables": builders.PROMO_VARIABLES,
            },
        )
        campaign = campaign_from_saved_message(
            session, owner, saved.id, name="Promo Juli", segment_id=shop.segment_id
        )
    assert campaign.status == "draft" and campaign.message_type == "template"
    assert campaign.whatsapp_template_id == template.id
    assert campaign.template_variables == builders.PROMO_VARIABLES
    with uow.begin() as session, pytest.raises(NotFound):
        campaign_from_saved_message(session, owner, uuid.uuid4(), name="X")
