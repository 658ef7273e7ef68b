"""Contacts over HTTP: search, labels, pages, masking, and who may read them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest

from core.db import UnitOfWork
from sql.schema import Contact, ContactLabel, ContactPreference, Conversation, Label
from sql.types import utcnow

BUDI = uuid.UUID("00000000-0000-0000-0000-000000000001")


@pytest.fixture
def crm(uow: UnitOfWork) -> None:
    """Three contacts: Budi (vip, promo; two conversations; opted out), Siti (promo), Andi."""
    now = utcnow()
    with uow.begin() as session:
        vip, promo = Label(name="vip"), Label(name="promo")
        budi = Contact(
            id=BUDI,
            name="Budi Santoso",
            phone="+6281234567890",
            custom_fields={"city": "Bandung", "tier": "gold"},
            updated_at=now - timedelta(days=2),
        )
        siti = Contact(name="Siti Rahma", phone="+6281311112222", updated_at=now)
        andi = Contact(
            name="Andi 100%_Jaya", phone="+6285799998888", updated_at=now - timedelta(days=1)
        )
        session.add_all([vip, promo, budi, siti, andi])
        session.flush()
        session.add_all(
            [
                ContactLabel(contact_id=budi.id, label_id=vip.id),
                ContactLabel(contact_id=budi.id, label_id=promo.id),
                ContactLabel(contact_id=siti.id, label_id=promo.id),
                Conversation(contact_id=budi.id, status="resolved", rating=5, message_count=7,
                             last_message_at=now - timedelta(days=30)),
                Conversation(contact_id=budi.id, status="closed", rating=4, message_count=3,
                             last_message_at=now - timedelta(days=3)),
                ContactPreference(contact_id=budi.id, opted_out=True, opted_out_at=now),
            ]
        )  # fmt: skip


def _names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def test_owner_sees_full_phones_newest_change_first(crm: None, owner_api: httpx.Client) -> None:
    response = owner_api.get("/api/contacts")
    assert _names(response) == ["Siti Rahma", "Andi 100%_Jaya", "Budi Santoso"]
    body = response.json()
    assert (body["total"], body["limit"], body["offset"], body["has_more"]) == (3, 50, 0, False)
    budi = body["items"][2]
    assert budi["phone"] == "+6281234567890" and budi["phone_masked"] is False
    assert budi["labels"] == ["promo", "vip"]
    assert budi["custom_fields"] == {"city": "Bandung", "tier": "gold"}


def test_supervisor_sees_masked_phones(crm: None, supervisor_api: httpx.Client) -> None:
    items = supervisor_api.get("/api/contacts").json()["items"]
    budi = next(item for item in items if item["name"] == "Budi Santoso")
    assert budi["phone"] == "+62812•••••890"
    assert budi["phone_masked"] is True
    assert all("+6281234567890" not in str(item) for item in items)
    detail = supervisor_api.get(f"/api/contacts/{BUDI}").json()
    assert detail["phone"] == "+62812•••••890" and detail["phone_masked"] is True


def test_agent_cannot_read_contacts(crm: None, agent_api: httpx.Client) -> None:
    for path in ("/api/contacts", f"/api/contacts/{BUDI}"):
        response = agent_api.get(path)
        assert response.status_code == 403
        assert response.json() == {"detail": "Your role (agent) may not view contacts."}


def test_search_by_name_is_case_insensitive_and_literal(crm: None, owner_api: httpx.Client) -> None:
    assert _names(owner_api.get("/api/contacts", params={"search": "budi"})) == ["Budi Santoso"]
    # % and _ are searched for literally, not as wildcards.
    assert _names(owner_api.get("/api/contacts", params={"search": "100%_"})) == ["Andi 100%_Jaya"]
    assert _names(owner_api.get("/api/contacts", params={"search": "%"})) == ["Andi 100%_Jaya"]


def test_search_by_phone_fragment_only_for_roles_that_see_phones(
    crm: None, owner_api: httpx.Client, supervisor_api: httpx.Client
) -> None:
    assert _names(owner_api.get("/api/contacts", params={"search": "0812 3456"})) == [
        "Budi Santoso"
    ]
    assert _names(supervisor_api.get("/api/contacts", params={"search": "0812 3456"})) == []


def test_label_filter_any_or_all(crm: None, owner_api: httpx.Client) -> None:
    any_of = owner_api.get("/api/contacts", params=[("label", "vip"), ("label", "promo")])
    assert _names(any_of) == ["Siti Rahma", "Budi Santoso"]
    all_of = owner_api.get(
        "/api/contacts",
        params=[("label", "vip"), ("label", "promo"), ("match_all_labels", "true")],
    )
    assert _names(all_of) == ["Budi Santoso"]
    unknown = owner_api.get("/api/contacts", params={"label": "nope"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "Unknown label: nope"


def test_pagination(crm: None, owner_api: httpx.Client) -> None:
    first = owner_api.get("/api/contacts", params={"limit": 2}).json()
    second = owner_api.get("/api/contacts", params={"limit": 2, "offset": 2}).json()
    assert (first["total"], first["has_more"], second["has_more"]) == (3, True, False)
    names = [i["name"] for i in first["items"] + second["items"]]
    assert sorted(names) == ["Andi 100%_Jaya", "Budi Santoso", "Siti Rahma"]
    too_big = owner_api.get("/api/contacts", params={"limit": 10_000})
    assert too_big.status_code == 422
    assert too_big.json()["errors"][0]["field"] == "limit"
    negative = owner_api.get("/api/contacts", params={"offset": -1})
    assert negative.json()["errors"][0]["field"] == "offset"


def test_contact_detail_sums_up_conversations(crm: None, owner_api: httpx.Client) -> None:
    response = owner_api.get(f"/api/contacts/{BUDI}")
    assert response.status_code == 200
    detail = response.json()
    assert detail["name"] == "Budi Santoso"
    assert detail["phone"] == "+6281234567890"
    assert detail["labels"] == ["promo", "vip"]
    assert (detail["conversation_count"], detail["message_count"]) == (2, 10)
    assert detail["average_rating"] == 4.5
    assert detail["last_message_at"] is not None and detail["last_message_at"].endswith("Z")
    assert detail["opted_out"] is True


def test_contact_detail_of_a_contact_without_history(crm: None, owner_api: httpx.Client) -> None:
    siti = owner_api.get("/api/contacts", params={"search": "siti"}).json()["items"][0]
    detail = owner_api.get(f"/api/contacts/{siti['id']}").json()
    assert (detail["conversation_count"], detail["message_count"]) == (0, 0)
    assert detail["average_rating"] is None and detail["last_message_at"] is None
    assert detail["opted_out"] is False


def test_unknown_contact_is_404(owner_api: httpx.Client) -> None:
    missing = uuid.uuid4()
    response = owner_api.get(f"/api/contacts/{missing}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Contact {missing} does not exist."}
