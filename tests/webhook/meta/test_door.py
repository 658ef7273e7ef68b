"""At the door: the handshake, signatures, size and shape; refused bodies are never stored."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from core.bootstrap import Siaran
from core.webhooks import MAX_BODY_BYTES
from sql.schema import WebhookEvent
from sql.types import utcnow
from tests.core.webhooks.payloads import (
    VERIFY_TOKEN,
    encode,
    envelope,
    signature,
    status,
    statuses_change,
)
from tests.webhook.meta.conftest import Post


def _stored(siaran: Siaran) -> int:
    with siaran.uow.session() as session:
        return session.scalar(select(func.count()).select_from(WebhookEvent)) or 0


def _handshake(
    api: httpx.Client, token: str, mode: str = "subscribe", challenge: str = "1158201444"
):
    return api.get(
        "/webhook", params={"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}
    )


@pytest.mark.usefixtures("account")
def test_handshake_answers_the_challenge_for_the_right_token(api: httpx.Client) -> None:
    answer = _handshake(api, VERIFY_TOKEN)
    assert answer.status_code == 200
    assert answer.text == "1158201444"
    assert answer.headers["content-type"].startswith("text/plain")


@pytest.mark.usefixtures("account")
def test_handshake_refuses_a_wrong_token_or_mode(api: httpx.Client) -> None:
    assert _handshake(api, "not-the-token").status_code == 403
    assert _handshake(api, VERIFY_TOKEN, mode="unsubscribe").status_code == 403
    assert api.get("/webhook").status_code == 403
    assert _handshake(api, VERIFY_TOKEN, challenge="").status_code == 400


def test_handshake_without_any_account_is_refused(api: httpx.Client) -> None:
    assert _handshake(api, VERIFY_TOKEN).status_code == 403


def _body() -> dict:
    return envelope(statuses_change(status("wamid.X", "delivered", utcnow())))


@pytest.mark.usefixtures("account")
def test_a_signed_body_is_stored_and_answered_200(meta: Post, siaran: Siaran) -> None:
    answer = meta(_body())
    assert answer.status_code == 200
    assert answer.json() == {"stored": True, "duplicate": False}
    assert _stored(siaran) == 1
    # WhatsApp delivering the same body again: 200, stored once.
    again = meta(_body())
    assert again.status_code == 200 and again.json()["duplicate"] in (True, False)
    body = encode(envelope(statuses_change(status("wamid.Y", "read", 1_750_000_000))))
    assert meta(body).json()["duplicate"] is False
    assert meta(body).json()["duplicate"] is True


@pytest.mark.usefixtures("account")
def test_signatures_are_checked_on_the_raw_bytes(meta: Post, siaran: Siaran) -> None:
    raw = encode(_body())
    wrong_secret = meta(raw, secret="someone-elses-secret")
    assert wrong_secret.status_code == 403
    assert "does not match" in wrong_secret.json()["detail"]
    missing = meta(raw, sign=False)
    assert missing.status_code == 401
    assert "X-Hub-Signature-256" in missing.json()["detail"]
    # The same JSON re-serialized (a space added) is another body: its signature fails.
    tampered = meta(
        raw.replace(b'":', b'": ', 1), headers={"X-Hub-Signature-256": signature(raw)}, sign=False
    )
    assert tampered.status_code == 403
    garbage = meta(raw, sign=False, headers={"X-Hub-Signature-256": "md5=abc"})
    assert garbage.status_code == 403
    assert _stored(siaran) == 0
    # Upper-case hex is still the same digest.
    upper = meta(
        raw, sign=False, headers={"X-Hub-Signature-256": "sha256=" + signature(raw)[7:].upper()}
    )
    assert upper.status_code == 200


def test_without_an_account_no_signature_can_be_valid(meta: Post, siaran: Siaran) -> None:
    answer = meta(_body())
    assert answer.status_code == 403
    assert "No WhatsApp account is connected" in answer.json()["detail"]
    assert _stored(siaran) == 0


@pytest.mark.usefixtures("account")
def test_oversized_bodies_are_refused_before_reading_them(
    meta: Post, api: httpx.Client, siaran: Siaran
) -> None:
    big = b'{"object":"whatsapp_business_account","pad":"' + b"x" * MAX_BODY_BYTES + b'"}'
    assert meta(big).status_code == 413

    def chunks():  # no Content-Length: the size is found while reading
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    chunked = api.post("/webhook", content=chunks(), headers={"X-Hub-Signature-256": "sha256=00"})
    assert chunked.status_code == 413
    assert "larger than" in chunked.json()["detail"]
    assert _stored(siaran) == 0


@pytest.mark.usefixtures("account")
@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"object": "whatsapp_business_account", "entry": [', "not valid JSON"),
        (b"[1, 2, 3]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"", "not valid JSON"),
    ],
)
def test_malformed_bodies_get_a_clear_400(
    meta: Post, siaran: Siaran, raw: bytes, says: str
) -> None:
    answer = meta(raw)
    assert answer.status_code == 400
    assert says in answer.json()["detail"]
    assert _stored(siaran) == 0


@pytest.mark.usefixtures("account")
def test_rejections_are_counted_for_owners(
    meta: Post, owner_api: httpx.Client, supervisor_api: httpx.Client
) -> None:
    meta(_body(), sign=False)
    meta(_body(), secret="wrong-secret-123")
    meta(_body(), secret="wrong-secret-123")
    meta(b"nope")
    meta(_body())
    stats = owner_api.get("/api/webhooks/stats")
    assert stats.status_code == 200
    body = stats.json()
    assert body["receiver"]["rejected"] == {
        "missing_signature": 1,
        "bad_signature": 2,
        "malformed": 1,
    }
    assert body["receiver"]["accepted"] == 1
    assert body["events_by_state"]["received"] + body["events_by_state"]["processed"] == 1
    assert supervisor_api.get("/api/webhooks/stats").status_code == 403
