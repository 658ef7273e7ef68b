"""Campaign CRUD: drafts, what may change in which status, permissions and audit."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.campaigns import service
from core.campaigns.lifecycle import transition
from core.db import UnitOfWork
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from core.permissions import Actor
from sql.schema import AuditLog, Campaign, CampaignMessage, Contact
from sql.types import utcnow
from tests.core.campaigns import builders
from tests.core.campaigns.conftest import Shop


def audit_actions(uow: UnitOfWork, target_id: uuid.UUID) -> list[tuple[str, uuid.UUID | None]]:
    with uow.session() as session:
        rows = session.scalars(
            select(AuditLog)
            .where(AuditLog.target_id == str(target_id))
            .order_by(AuditLog.created_at)
        )
        return [(row.action, row.actor_id) for row in rows]


def test_a_draft_needs_only_a_name(uow: UnitOfWork, owner: Actor) -> None:
    with uow.begin() as session:
        draft = service.create_campaign(session, owner, {"name": "  Lebaran  "})
    assert draft.status == "draft" and draft.name == "Lebaran"
    assert draft.message_type == "text" and draft.rate_limit == 20
    assert draft.created_by == owner.id
    assert audit_actions(uow, draft.id) == [("campaign.create", owner.id)]


def test_every_field_can_be_set(uow: UnitOfWork, owner: Actor, shop: Shop) -> None:
    expires = utcnow() + timedelta(days=2)
    with uow.begin() as session:
        template = builders.template(session, None)
        created = service.create_campaign(
            session,
            owner,
            {
                "name": "Akhir tahun",
                "description": "Diskon akhir tahun",
                "segment_id": shop.segment_id,
                "whatsapp_account_id": shop.account_id,
                "message_type": "template",
                "message_content": {},
                "whatsapp_template_id": template.id,
                "template_variables": builders.PROMO_VARIABLES,
                "rate_limit": 50,
                "expires_at": expires,
            },
        )
    with uow.session() as session:
        stored = service.get_campaign(session, owner, created.id)
        assert stored.template_variables == builders.PROMO_VARIABLES
        assert stored.rate_limit == 50 and stored.expires_at == expires
        assert stored.whatsapp_template_id == template.id


def test_malformed_content_is_refused_with_each_problem(uow: UnitOfWork, owner: Actor) -> None:
    with uow.begin() as session, pytest.raises(InvalidInput) as refused:
        service.create_campaign(
            session,
            owner,
            {
                "name": "Rusak",
                "message_type": "image",
                "message_content": {"link": "http://insecure.test/a.jpg", "body": "x"},
            },
        )
    paths = {e["path"] for e in refused.value.errors}
    assert paths == {"message_content.link", "message_content.body"}
    with uow.begin() as session, pytest.raises(InvalidInput, match="4097 characters"):
        service.create_campaign(
            session, owner, {"name": "Panjang", "message_content": {"body": "x" * 4097}}
        )
    with uow.begin() as session, pytest.raises(InvalidInput, match="rate_limit"):
        service.create_campaign(session, owner, {"name": "Cepat", "rate_limit": 0})
    with uow.begin() as session, pytest.raises(InvalidInput, match="no segment"):
        service.create_campaign(session, owner, {"name": "X", "segment_id": uuid.uuid4()})
    with uow.begin() as session, pytest.raises(InvalidInput, match="only template messages"):
        service.create_campaign(
            session,
            owner,
            {"name": "X", "template_variables": {"body.1": {"source": "fixed", "value": "a"}}},
        )


def test_supervisors_read_and_agents_see_nothing(
    uow: UnitOfWork, shop: Shop, supervisor: Actor, agent: Actor
) -> None:
    with uow.session() as session:
        assert service.get_campaign(session, supervisor, shop.campaign_id).name == "Promo"
        assert [c.name for c in service.list_campaigns(session, supervisor)] == ["Promo"]
        with pytest.raises(PermissionDenied):
            service.create_campaign(session, supervisor, {"name": "Nope"})
        with pytest.raises(PermissionDenied):
            service.update_campaign(session, supervisor, shop.campaign_id, {"name": "Nope"})
        with pytest.raises(PermissionDenied):
            service.delete_campaign(session, supervisor, shop.campaign_id)
        with pytest.raises(PermissionDenied):
            service.get_campaign(session, agent, shop.campaign_id)
        with pytest.raises(PermissionDenied):
            service.list_campaigns(session, agent)


def test_update_changes_only_the_given_fields(uow: UnitOfWork, owner: Actor, shop: Shop) -> None:
    with uow.begin() as session:
        updated = service.update_campaign(
            session, owner, shop.campaign_id, {"name": "Promo Juni", "rate_limit": 5}
        )
    assert updated.name == "Promo Juni" and updated.rate_limit == 5
    assert updated.message_content["body"] == "Halo {name} di {city}!"
    assert audit_actions(uow, shop.campaign_id) == [("campaign.update", owner.id)]


def test_paused_campaigns_change_only_pace_and_labels(
    uow: UnitOfWork, owner: Actor, shop: Shop
) -> None:
    with uow.begin() as session:
        transition(session, shop.campaign_id, "launch")
        transition(session, shop.campaign_id, "pause")
    with uow.begin() as session:
        changed = service.update_campaign(session, owner, shop.campaign_id, {"rate_limit": 3})
        assert changed.rate_limit == 3
    with uow.begin() as session, pytest.raises(Conflict, match="fixed at launch"):
        service.update_campaign(
            session, owner, shop.campaign_id, {"message_content": {"body": "Baru"}}
        )


@pytest.mark.parametrize("status", ["running", "completed", "failed", "cancelled"])
def test_running_and_ended_campaigns_are_not_editable(
    uow: UnitOfWork, owner: Actor, status: str
) -> None:
    with uow.begin() as session:
        campaign_id = builders.campaign(session, "Promo", status=status).id
    with uow.begin() as session, pytest.raises(Conflict, match=f"is {status}; only draft"):
        service.update_campaign(session, owner, campaign_id, {"name": "Lain"})


def test_a_scheduled_campaign_cannot_be_edited_into_something_unsendable(
    uow: UnitOfWork, owner: Actor, shop: Shop
) -> None:
    with uow.begin() as session:
        session.get(Campaign, shop.campaign_id).status = "scheduled"  # type: ignore[union-attr]
    with uow.begin() as session, pytest.raises(InvalidInput, match="message text is empty"):
        service.update_campaign(
            session, owner, shop.campaign_id, {"message_content": {"body": "  "}}
        )
    with uow.begin() as session:
        campaign = session.get(Campaign, shop.campaign_id)
        assert campaign is not None
        campaign.scheduled_at = utcnow() + timedelta(days=2)
    with uow.begin() as session, pytest.raises(InvalidInput, match="cannot expire before"):
        service.update_campaign(
            session, owner, shop.campaign_id, {"expires_at": utcnow() + timedelta(days=1)}
        )
    with uow.begin() as session:
        service.update_campaign(session, owner, shop.campaign_id, {"description": "ok"})


def test_delete_allowed_states_and_cascade(uow: UnitOfWork, owner: Actor, shop: Shop) -> None:
    with uow.begin() as session:
        done = builders.campaign(session, "Selesai", status="completed")
        ani = session.get(Contact, shop.contacts["Ani"])
        builders.message(session, done, ani, status="read")
        running = builders.campaign(session, "Jalan", status="running").id
        done_id = done.id
    with uow.begin() as session:
        service.delete_campaign(session, owner, done_id)
        service.delete_campaign(session, owner, shop.campaign_id)
    with uow.session() as session:
        assert session.get(Campaign, done_id) is None
        assert session.scalars(select(CampaignMessage)).all() == []
    assert audit_actions(uow, done_id)[-1] == ("campaign.delete", owner.id)
    with uow.begin() as session, pytest.raises(Conflict, match=r"is running; .*Cancel it first"):
        service.delete_campaign(session, owner, running)
    with uow.begin() as session, pytest.raises(NotFound):
        service.delete_campaign(session, owner, uuid.uuid4())


def test_lists_filter_and_scheduled_come_soonest_first(uow: UnitOfWork, owner: Actor) -> None:
    now = utcnow()
    with uow.begin() as session:
        builders.campaign(session, "Later", status="scheduled", scheduled_at=now + timedelta(2))
        builders.campaign(session, "Soon", status="scheduled", scheduled_at=now + timedelta(1))
        builders.campaign(session, "Draft A", status="draft")
        builders.campaign(session, "Done", status="completed")
    with uow.session() as session:
        assert [c.name for c in service.scheduled_campaigns(session, owner)] == ["Soon", "Later"]
        drafts = service.list_campaigns(session, owner, status=["draft", "completed"])
        assert {c.name for c in drafts} == {"Draft A", "Done"}
        assert [c.name for c in service.list_campaigns(session, owner, search="soo")] == ["Soon"]
        with pytest.raises(InvalidInput, match="Unknown campaign status sent"):
            service.list_campaigns(session, owner, status="sent")
