"""Signed webhooks, checked by a receiver that verifies every signature itself.

Statuses with ``biz_opaque_callback_data`` and per-message pricing, failures with their error
objects, replies with ``context``, opt-outs, template status updates, duplicates, reordering,
batching, retries, dead letters, and the subscription handshake.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.sandbox.helpers import (
    MESSAGES,
    PHONE_ID,
    WABA_ID,
    Receiver,
    client_for,
    expected_signature,
    promo_components,
    template_message,
    text_message,
    wait_for,
)

PROMO = template_message("promo_akhir_tahun", "id", promo_components())


def start(make_sandbox: Any, receiver: Receiver, **overrides: Any) -> Any:
    webhooks = {"url": receiver.url, **overrides.pop("webhooks", {})}
    return make_sandbox(webhooks=webhooks, **overrides)


def send(server: Any, payload: dict[str, Any]) -> str:
    with client_for(server) as graph:
        response = graph.post(MESSAGES, json=payload)
    assert response.status_code == 200, response.text
    return response.json()["messages"][0]["id"]


def statuses_of(receiver: Receiver, wamid: str, count: int) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]] | None:
        statuses = [s for s in receiver.statuses() if s["id"] == wamid]
        return statuses if len(statuses) >= count else None

    return wait_for(found, what=f"{count} statuses of {wamid}")


def settled(server: Any) -> None:
    wait_for(lambda: httpx.get(server.url + "/_sandbox/webhooks").json()["pending"] == 0)


def test_statuses_are_signed_and_shaped_as_meta_sends_them(
    make_sandbox: Any, receiver: Receiver
) -> None:
    server = start(make_sandbox, receiver)
    wamid = send(server, {**PROMO, "biz_opaque_callback_data": "campaign-3:msg-17"})
    statuses = statuses_of(receiver, wamid, 3)
    assert sorted(s["status"] for s in statuses) == ["delivered", "read", "sent"]
    for status in statuses:
        assert status["recipient_id"] == "6281234567890"
        assert status["biz_opaque_callback_data"] == "campaign-3:msg-17"
        assert status["timestamp"].isdigit()
        assert status["pricing"] == {
            "billable": True,
            "pricing_model": "PMP",
            "category": "marketing",
            "type": "regular",
        }
        assert "conversation" not in status and "errors" not in status
    for raw, header in receiver.posts:
        assert header == expected_signature(raw)
    body = receiver.bodies[0]
    assert body["object"] == "whatsapp_business_account"
    [entry] = body["entry"]
    assert entry["id"] == WABA_ID
    [change] = entry["changes"]
    assert change["field"] == "messages"
    assert change["value"]["messaging_product"] == "whatsapp"
    assert change["value"]["metadata"] == {
        "display_phone_number": "6281100000000",
        "phone_number_id": PHONE_ID,
    }
    assert not receiver.rejected


def test_tampered_bodies_fail_verification(make_sandbox: Any, receiver: Receiver) -> None:
    server = start(make_sandbox, receiver)
    statuses_of(receiver, send(server, PROMO), 1)
    raw, header = receiver.posts[0]
    tampered = raw.replace(b'"sent"', b'"read"').replace(b'"delivered"', b'"read"')
    assert tampered != raw
    assert expected_signature(tampered) != header
    response = httpx.post(receiver.url, content=tampered, headers={"X-Hub-Signature-256": header})
    assert response.status_code == 401
    assert receiver.rejected == [tampered]


def test_a_receiver_with_another_secret_rejects_everything(
    make_sandbox: Any, receiver: Receiver
) -> None:
    server = start(make_sandbox, receiver, app_secret="not-the-receivers-secret")
    send(server, PROMO)
    wait_for(lambda: len(receiver.rejected) >= 3, what="rejected deliveries")
    assert receiver.posts == []
    stats = httpx.get(server.url + "/_sandbox/webhooks").json()
    assert stats["failed_attempts"] >= 3 and stats["delivered_posts"] == 0


def test_service_messages_are_free(make_sandbox: Any, receiver: Receiver) -> None:
    server = start(make_sandbox, receiver, enforce_service_window=False)
    [status, *_] = statuses_of(receiver, send(server, text_message()), 1)
    assert status["pricing"] == {
        "billable": False,
        "pricing_model": "PMP",
        "category": "service",
        "type": "free_customer_service",
    }


def test_not_on_whatsapp_fails_with_131026(make_sandbox: Any, receiver: Receiver) -> None:
    server = start(make_sandbox, receiver)
    wamid = send(server, {**PROMO, "to": "6281234560000", "biz_opaque_callback_data": "m-9"})
    [status] = statuses_of(receiver, wamid, 1)
    assert status["status"] == "failed"
    assert status["biz_opaque_callback_data"] == "m-9"
    assert "pricing" not in status
    [error] = status["errors"]
    assert error["code"] == 131026
    assert set(error) == {"code", "title", "message", "error_data", "href"}
    assert "not a WhatsApp user" in error["error_data"]["details"]


def test_outside_the_window_fails_with_131047(make_sandbox: Any, receiver: Receiver) -> None:
    server = start(make_sandbox, receiver)
    [status] = statuses_of(receiver, send(server, text_message()), 1)
    assert status["status"] == "failed"
    assert status["errors"][0]["code"] == 131047
    assert status["errors"][0]["title"] == "Re-engagement message"


def test_marketing_opt_out_131050_comes_with_user_preferences(
    make_sandbox: Any, receiver: Receiver
) -> None:
    server = start(
        make_sandbox,
        receiver,
        outcomes={"read": 0, "failed": 1, "failure_codes": {"131050": 1}},
    )
    [status] = statuses_of(receiver, send(server, PROMO), 1)
    assert status["errors"][0]["code"] == 131050
    [preferences] = wait_for(lambda: receiver.changes("user_preferences"))
    [preference] = preferences["user_preferences"]
    assert preference["wa_id"] == "6281234567890"
    assert preference["category"] == "marketing_messages"
    assert preference["value"] == "stop"
    assert preferences["contacts"][0]["wa_id"] == "6281234567890"


def test_marketing_only_failures_fall_back_for_utility(
    make_sandbox: Any, receiver: Receiver
) -> None:
    server = start(
        make_sandbox,
        receiver,
        outcomes={"read": 0, "failed": 1, "failure_codes": {"131049": 1}},
    )
    utility = template_message("pengumuman_toko", "id")
    utility["template"]["name"] = "hello_world"
    utility["template"]["language"]["code"] = "en_US"
    [status] = statuses_of(receiver, send(server, utility), 1)
    assert status["errors"][0]["code"] == 131026


def test_replies_point_at_the_message_and_open_the_window(
    make_sandbox: Any, receiver: Receiver
) -> None:
    server = start(make_sandbox, receiver, outcomes={"read": 0, "replied": 1, "opt_out_rate": 0})
    wamid = send(server, PROMO)
    [reply] = wait_for(receiver.inbound, what="the reply")
    assert reply["context"] == {"from": "6281100000000", "id": wamid}
    assert reply["from"] == "6281234567890"
    assert reply["type"] == "text" and reply["text"]["body"]
    assert reply["id"].startswith("wamid.") and reply["id"] != wamid
    [value] = [v for v in receiver.changes() if v.get("messages")]
    assert value["contacts"][0]["wa_id"] == "6281234567890"
    assert value["contacts"][0]["profile"]["name"]
    settled(server)
    follow_up = send(server, text_message())  # inside the window now
    statuses = statuses_of(receiver, follow_up, 1)
    assert all(s["status"] != "failed" for s in statuses)


def test_opt_out_replies(make_sandbox: Any, receiver: Receiver) -> None:
    server = start(make_sandbox, receiver, outcomes={"read": 0, "replied": 1, "opt_out_rate": 1})
    for n in range(8):
        send(server, {**PROMO, "to": f"62812345670{n:02d}"})
    replies = wait_for(lambda: len(receiver.inbound()) >= 8 and receiver.inbound())
    for reply in replies:
        if reply["type"] == "button":
            assert reply["button"] == {"payload": "Stop promosi", "text": "Stop promosi"}
        else:
            assert reply["text"]["body"] in ("STOP", "BERHENTI")


def test_outcomes_are_repeatable_with_a_seed(make_sandbox: Any) -> None:
    mix = {"delivered": 1, "read": 1, "replied": 1, "failed": 1}
    runs = []
    for _ in range(2):
        server = make_sandbox(seed=42, outcomes=mix)
        for n in range(30):
            send(server, {**PROMO, "to": f"6281299900{n:02d}"})
        messages = httpx.get(server.url + "/_sandbox/messages").json()["data"]
        runs.append([(m["wa_id"], m["outcome"], m["error_code"]) for m in messages])
    assert runs[0] == runs[1]
    assert {outcome for _, outcome, _ in runs[0]} == {"delivered", "read", "replied", "failed"}
    other_seed = make_sandbox(seed=43, outcomes=mix)
    for n in range(30):
        send(other_seed, {**PROMO, "to": f"6281299900{n:02d}"})
    messages = httpx.get(other_seed.url + "/_sandbox/messages").json()["data"]
    assert [(m["wa_id"], m["outcome"], m["error_code"]) for m in messages] != runs[0]


def test_duplicates(make_sandbox: Any, receiver: Receiver) -> None:
    server = start(make_sandbox, receiver, webhooks={"duplicate_rate": 1, "duplicate_delay_ms": 50})
    wamid = send(server, PROMO)
    statuses = statuses_of(receiver, wamid, 6)
    for name in ("sent", "delivered", "read"):
        copies = [s for s in statuses if s["status"] == name]
        assert len(copies) == 2 and copies[0] == copies[1]


def test_out_of_order(make_sandbox: Any, receiver: Receiver) -> None:
    server = start(
        make_sandbox,
        receiver,
        webhooks={"reorder_rate": 1, "reorder_delay_ms": 100, "concurrency": 1},
    )
    wamid = send(server, PROMO)
    statuses = statuses_of(receiver, wamid, 3)
    assert [s["status"] for s in statuses] == ["delivered", "read", "sent"]
    settled(server)
    messages = httpx.get(server.url + "/_sandbox/messages").json()["data"]
    assert messages[0]["status"] == "read"  # the late "sent" did not move it back


def test_statuses_share_posts_when_batching(make_sandbox: Any, receiver: Receiver) -> None:
    server = start(
        make_sandbox,
        receiver,
        timing={
            "sent_after_ms": 100,
            "delivered_after_ms": 100,
            "read_after_ms": 100,
            "replied_after_ms": 100,
        },
        webhooks={"batch_rate": 1, "batch_max": 50, "batch_window_ms": 200},
    )
    for n in range(5):
        send(server, {**PROMO, "to": f"62812345680{n:02d}"})
    wait_for(lambda: len(receiver.statuses()) >= 15, what="15 statuses")
    sizes = [len(value.get("statuses", [])) for value in receiver.changes()]
    assert max(sizes) > 1


def test_one_status_per_post_without_batching(make_sandbox: Any, receiver: Receiver) -> None:
    server = start(make_sandbox, receiver)
    for n in range(3):
        send(server, {**PROMO, "to": f"62812345690{n:02d}"})
    wait_for(lambda: len(receiver.statuses()) >= 9, what="9 statuses")
    assert all(len(value["statuses"]) == 1 for value in receiver.changes())


def test_failed_deliveries_are_retried(make_sandbox: Any, receiver: Receiver) -> None:
    receiver.fail_next = 2
    server = start(make_sandbox, receiver, webhooks={"concurrency": 1})
    wamid = send(server, PROMO)
    statuses = statuses_of(receiver, wamid, 3)
    assert sorted(s["status"] for s in statuses) == ["delivered", "read", "sent"]
    assert receiver.failures == 2
    settled(server)
    stats = httpx.get(server.url + "/_sandbox/webhooks").json()
    assert stats["retries"] == 2 and stats["failed_attempts"] == 2
    assert stats["delivered_events"] == 3 and stats["dead_letters"] == 0
    assert [entry["result"] for entry in stats["recent"]].count(500) == 2


def test_timeouts_are_retried(make_sandbox: Any, receiver: Receiver) -> None:
    receiver.delay_s = 0.5
    server = start(make_sandbox, receiver, webhooks={"timeout_s": 0.1, "max_attempts": 10})
    wamid = send(server, PROMO)
    wait_for(
        lambda: httpx.get(server.url + "/_sandbox/webhooks").json()["failed_attempts"] >= 1,
        what="a timeout",
    )
    receiver.delay_s = 0
    statuses_of(receiver, wamid, 3)
    recent = httpx.get(server.url + "/_sandbox/webhooks").json()["recent"]
    assert "timeout" in [entry["result"] for entry in recent]


def test_undeliverable_webhooks_become_dead_letters(make_sandbox: Any, receiver: Receiver) -> None:
    receiver.fail_next = 1000
    server = start(make_sandbox, receiver, webhooks={"max_attempts": 3})
    send(server, PROMO)
    settled(server)
    stats = httpx.get(server.url + "/_sandbox/webhooks").json()
    assert stats["dead_letters"] == 3  # sent, delivered, read: one POST each
    assert receiver.failures == 9
    letters = httpx.get(server.url + "/_sandbox/webhooks/dead_letters").json()["data"]
    assert {letter["attempts"] for letter in letters} == {3}
    assert letters[0]["body"]["object"] == "whatsapp_business_account"


def test_webhooks_never_slow_the_api(make_sandbox: Any, receiver: Receiver) -> None:
    receiver.delay_s = 1.0
    server = start(make_sandbox, receiver, latency_ms=0, latency_jitter_ms=0)
    started = time.monotonic()
    with client_for(server) as graph:
        for n in range(20):
            assert (
                graph.post(MESSAGES, json={**PROMO, "to": f"628123457{n:04d}"}).status_code == 200
            )
    assert time.monotonic() - started < 1.0


def test_nothing_is_delivered_without_a_url(make_sandbox: Any, receiver: Receiver) -> None:
    server = make_sandbox()
    send(server, PROMO)
    settled(server)
    assert receiver.posts == []
    messages = httpx.get(server.url + "/_sandbox/messages").json()["data"]
    assert messages[0]["status"] == "read"  # statuses still advance


def test_template_status_change_emits_an_update(make_sandbox: Any, receiver: Receiver) -> None:
    server = start(make_sandbox, receiver)
    templates = httpx.get(server.url + "/_sandbox/templates").json()["data"]
    [promo] = [t for t in templates if (t["name"], t["language"]) == ("promo_akhir_tahun", "id")]
    changed = httpx.post(
        f"{server.url}/_sandbox/templates/{promo['id']}/status",
        json={"status": "PAUSED", "reason": "LOW_QUALITY"},
    )
    assert changed.status_code == 200 and changed.json()["status"] == "PAUSED"
    [update] = wait_for(lambda: receiver.changes("message_template_status_update"))
    assert update["event"] == "PAUSED"
    assert update["message_template_id"] == int(promo["id"])
    assert update["message_template_name"] == "promo_akhir_tahun"
    assert update["message_template_language"] == "id"
    assert update["reason"] == "LOW_QUALITY"
    entry = receiver.bodies[0]["entry"][0]
    assert entry["id"] == WABA_ID and isinstance(entry["time"], int)
    with client_for(server) as graph:
        assert graph.post(MESSAGES, json=PROMO).json()["error"]["code"] == 132015


def test_bad_status_change_requests(sandbox: Any) -> None:
    bad = httpx.post(f"{sandbox.url}/_sandbox/templates/1/status", json={"status": "PAUSED"})
    assert bad.status_code == 404
    templates = httpx.get(sandbox.url + "/_sandbox/templates").json()["data"]
    wrong = httpx.post(
        f"{sandbox.url}/_sandbox/templates/{templates[0]['id']}/status", json={"status": "GONE"}
    )
    assert wrong.status_code == 422


def test_simulated_inbound_messages(make_sandbox: Any, receiver: Receiver) -> None:
    server = start(make_sandbox, receiver)
    wamid = send(server, PROMO)
    text = httpx.post(
        server.url + "/_sandbox/inbound",
        json={"from": "+62 812-3456-7890", "text": "BERHENTI", "context_id": wamid, "name": "Budi"},
    )
    assert text.status_code == 201
    tap = httpx.post(
        server.url + "/_sandbox/inbound",
        json={"from": "6281234567890", "button": {"text": "Stop promosi", "payload": "STOP_PROMO"}},
    )
    assert tap.status_code == 201
    messages = wait_for(lambda: len(receiver.inbound()) >= 2 and receiver.inbound())
    by_type = {m["type"]: m for m in messages}
    assert by_type["text"]["text"] == {"body": "BERHENTI"}
    assert by_type["text"]["context"] == {"from": "6281100000000", "id": wamid}
    assert by_type["text"]["id"] == text.json()["id"]
    assert by_type["button"]["button"] == {"payload": "STOP_PROMO", "text": "Stop promosi"}
    assert "context" not in by_type["button"]
    names = [v["contacts"][0]["profile"]["name"] for v in receiver.changes() if v.get("messages")]
    assert "Budi" in names
    with client_for(server) as graph:  # the business marks the customer's message as read
        read = graph.post(
            MESSAGES,
            json={"messaging_product": "whatsapp", "status": "read", "message_id": wamid},
        )
        assert read.status_code == 400  # our own message, not one we received
        read = graph.post(
            MESSAGES,
            json={
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": text.json()["id"],
            },
        )
        assert read.json() == {"success": True}


def test_bad_inbound_requests(sandbox: Any) -> None:
    url = sandbox.url + "/_sandbox/inbound"
    assert httpx.post(url, json={"from": "abc", "text": "x"}).status_code == 422
    assert httpx.post(url, json={"from": "6281234567890"}).status_code == 422
    unknown = httpx.post(url, json={"from": "6281234567890", "text": "x", "context_id": "wamid.X"})
    assert unknown.status_code == 404


def test_subscription_handshake(make_sandbox: Any, receiver: Receiver) -> None:
    server = start(make_sandbox, receiver)
    assert httpx.post(server.url + "/_sandbox/webhooks/verify").json()["verified"] is True
    httpx.patch(server.url + "/_sandbox/config", json={"verify_token": "something-else"})
    result = httpx.post(server.url + "/_sandbox/webhooks/verify").json()
    assert result["verified"] is False and result["status"] == 403
