"""Preview with a contact or a stand-in, and a test send over real HTTP to a local Cloud API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from core.bootstrap import Siaran
from core.campaigns.preview import preview_campaign, send_test_message
from core.db import UnitOfWork
from core.errors import InvalidInput, PermissionDenied
from core.permissions import Actor
from sql.schema import AuditLog, Campaign, WhatsAppAccount
from tests.core.campaigns import builders
from tests.core.campaigns.conftest import Shop


def test_the_preview_uses_the_first_member(
    uow: UnitOfWork, owner: Actor, supervisor: Actor, shop: Shop
) -> None:
    with uow.session() as session:
        seen = preview_campaign(session, owner, shop.campaign_id)
        masked = preview_campaign(session, supervisor, shop.campaign_id)
    assert seen.text == "Halo Ani di Bandung!" and not seen.sample and seen.missing == []
    assert seen.contact_id == shop.contacts["Ani"] and seen.phone == "+6281100000001"
    assert seen.payload is not None and seen.payload["to"] == "6281100000001"
    assert seen.payload["text"]["body"] == "Halo Ani di Bandung!"
    assert masked.phone == "+62811•••••001" and masked.payload["to"] == "62811•••••001"  # type: ignore[index]


def test_the_preview_with_a_chosen_contact_shows_fallbacks_and_gaps(
    uow: UnitOfWork, owner: Actor, shop: Shop
) -> None:
    with uow.session() as session:
        citra = preview_campaign(
            session, owner, shop.campaign_id, contact_id=shop.contacts["Citra"]
        )
    assert citra.text == "Halo Citra di kota Anda!"
    with uow.begin() as session:
        session.get(Campaign, shop.campaign_id).message_content = {"body": "Promo di {city}"}  # type: ignore[union-attr]
    with uow.session() as session:
        gap = preview_campaign(session, owner, shop.campaign_id, contact_id=shop.contacts["Citra"])
    assert gap.text == "Promo di {city}" and gap.missing == ["{city}"]
    assert gap.payload is None and gap.problem == "No value and no fallback for {city}."


def test_a_draft_without_audience_previews_with_a_stand_in(uow: UnitOfWork, owner: Actor) -> None:
    with uow.begin() as session:
        draft = builders.campaign(session, "Baru", message_content={"body": "Hai {name}"}).id
    with uow.session() as session:
        seen = preview_campaign(session, owner, draft)
    assert seen.sample and seen.text == "Hai Budi Santoso" and seen.contact_id is None


class CloudApi:
    """A local stand-in for ``POST /v25.0/<phone_number_id>/messages``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.answer: tuple[int, dict[str, Any]] = (
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": "6281299990000", "wa_id": "6281299990000"}],
                "messages": [{"id": "wamid.TEST1"}],
            },
        )
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.requests.append((self.path, self.headers["Authorization"], body))
                status, answer = api.answer
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def cloud_api(uow: UnitOfWork, shop: Shop) -> Iterator[CloudApi]:
    api = CloudApi()
    thread = threading.Thread(target=api.server.serve_forever, daemon=True)
    thread.start()
    with uow.begin() as session:
        session.get(WhatsAppAccount, shop.account_id).api_base_url = api.url  # type: ignore[union-attr]
    yield api
    api.server.shutdown()
    api.server.server_close()


def test_a_test_send_posts_the_personalized_message(
    uow: UnitOfWork, siaran: Siaran, owner: Actor, shop: Shop, cloud_api: CloudApi
) -> None:
    with uow.begin() as session:
        result = send_test_message(
            session, owner, siaran.secrets, shop.campaign_id, "0812-9999-0000"
        )
    assert result.wamid == "wamid.TEST1"
    ((path, authorization, body),) = cloud_api.requests
    assert path == "/v25.0/1065/messages" and authorization == "Bearer secret-token-123"
    assert body["to"] == "6281299990000"
    assert body["text"]["body"] == "Halo Ani di Bandung!"  # values of the first member
    assert body["biz_opaque_callback_data"].startswith("test-")
    with uow.session() as session:
        details = session.scalars(
            select(AuditLog.details).where(AuditLog.action == "campaign.test_send")
        ).one()
    assert details["to"] == "+62812•••••000" and details["wamid"] == "wamid.TEST1"


def test_a_refused_test_send_says_why(
    uow: UnitOfWork, siaran: Siaran, owner: Actor, supervisor: Actor, shop: Shop,
    cloud_api: CloudApi,
) -> None:  # fmt: skip
    cloud_api.answer = (
        400,
        {"error": {"message": "Re-engagement message", "type": "OAuthException",
                   "code": 131047, "fbtrace_id": "x"}},
    )  # fmt: skip
    with uow.begin() as session, pytest.raises(InvalidInput, match="WhatsApp refused the test"):
        send_test_message(session, owner, siaran.secrets, shop.campaign_id, "+6281299990000")
    with uow.begin() as session, pytest.raises(PermissionDenied):
        send_test_message(session, supervisor, siaran.secrets, shop.campaign_id, "+6281299990000")
    with uow.begin() as session, pytest.raises(InvalidInput, match="not a valid phone number"):
        send_test_message(session, owner, siaran.secrets, shop.campaign_id, "12")
