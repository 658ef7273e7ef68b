"""Sending every emulated message type, over HTTP, with Meta's published example requests.

The request bodies are the examples of ``POST /{Version}/{Phone-Number-ID}/messages`` in
Meta's OpenAPI description (facebook/openapi, business-messaging-api_v23.0.yaml), with their
placeholders (``{{Recipient-Phone-Number}}``, ``<IMAGE_OBJECT_ID>``, ``http(s)://image-url``)
filled in with real values.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import (
    MESSAGES,
    PHONE_ID,
    VERSION,
    body_parameters,
    promo_components,
    template_message,
)

TO = "16505551234"
WAMID = re.compile(r"wamid\.[A-Za-z0-9+/=]+")


def upload(graph: httpx.Client, content: bytes, mime: str, filename: str) -> str:
    response = graph.post(
        f"/{VERSION}/{PHONE_ID}/media",
        data={"messaging_product": "whatsapp", "type": mime},
        files={"file": (filename, content, mime)},
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


def assert_accepted(response: httpx.Response, to: str = TO) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"messaging_product", "contacts", "messages"}
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": to, "wa_id": re.sub(r"\D", "", to)}]
    [message] = body["messages"]
    assert set(message) == {"id", "message_status"}
    assert message["message_status"] == "accepted"
    assert WAMID.fullmatch(message["id"])
    return message["id"]


# "Send Text Message" and "Send Text Message with Preview URL" (the latter has no "type":
# Meta defaults it to text).
TEXT_EXAMPLES = [
    {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "text": {"body": "text-message-content", "preview_url": False},
        "to": TO,
        "type": "text",
    },
    {
        "messaging_product": "whatsapp",
        "text": {"body": "Please visit https://youtu.be/hpltvTEiRrY.", "preview_url": True},
        "to": TO,
    },
]


@pytest.mark.parametrize("example", TEXT_EXAMPLES, ids=["text", "text-preview-url"])
def test_text_examples_are_accepted(graph: httpx.Client, example: dict[str, Any]) -> None:
    assert_accepted(graph.post(MESSAGES, json=example))


def test_media_by_link_examples_are_accepted(graph: httpx.Client) -> None:
    examples = [
        # "Send Image Message by URL"
        {"image": {"link": "https://tokomaju.example/image.jpg"}, "messaging_product": "whatsapp",
         "recipient_type": "individual", "to": TO, "type": "image"},
        # "Send Document Message by URL"
        {"document": {"caption": "Katalog Januari", "link": "https://tokomaju.example/k.pdf"},
         "messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
         "type": "document"},
        # "Send Video Message by URL"
        {"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
         "type": "video", "video": {"caption": "Cara pakai", "link": "https://tokomaju.example/v.mp4"}},
    ]  # fmt: skip
    for example in examples:
        assert_accepted(graph.post(MESSAGES, json=example))


def test_media_by_uploaded_id_examples_are_accepted(graph: httpx.Client) -> None:
    image_id = upload(graph, b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png", "promo.png")
    document_id = upload(graph, b"%PDF-1.4 katalog", "application/pdf", "katalog.pdf")
    video_id = upload(graph, b"\x00\x00\x00\x18ftypmp42", "video/mp4", "tutorial.mp4")
    examples = [
        # "Send Image Message by ID"
        {"image": {"id": image_id}, "messaging_product": "whatsapp",
         "recipient_type": "individual", "to": TO, "type": "image"},
        # "Send Document Message by ID" (caption and filename)
        {"document": {"caption": "Katalog", "filename": "katalog-januari.pdf", "id": document_id},
         "messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
         "type": "document"},
        # "Send Video Message by ID"
        {"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
         "type": "video", "video": {"caption": "Tonton", "id": video_id}},
    ]  # fmt: skip
    for example in examples:
        assert_accepted(graph.post(MESSAGES, json=example))


def test_reply_to_a_message_example_is_accepted(graph: httpx.Client) -> None:
    first = assert_accepted(graph.post(MESSAGES, json=TEXT_EXAMPLES[0]))
    # "Send Reply to Text Message"
    reply = {
        "context": {"message_id": first},
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "text": {"body": "Balasan", "preview_url": False},
        "to": TO,
        "type": "text",
    }
    assert_accepted(graph.post(MESSAGES, json=reply))


def test_hello_world_test_message_example_is_accepted(graph: httpx.Client) -> None:
    # "Send Test Message": the template every new WABA has.
    example = {
        "messaging_product": "whatsapp",
        "template": {"language": {"code": "en_US"}, "name": "hello_world"},
        "to": TO,
        "type": "template",
    }
    assert_accepted(graph.post(MESSAGES, json=example))


def test_template_media_example_with_currency_and_date_time_is_accepted(
    graph: httpx.Client,
) -> None:
    # "Send Message Template Media", against the library's shipping_confirmation
    # (image header; text, currency and date_time body parameters).
    example = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "template": {
            "components": [
                {"parameters": [{"image": {"link": "https://tokomaju.example/box.jpg"},
                                 "type": "image"}], "type": "header"},
                {"parameters": [
                    {"text": "text-string", "type": "text"},
                    {"currency": {"amount_1000": 100990, "code": "USD",
                                  "fallback_value": "$100.99"}, "type": "currency"},
                    {"date_time": {"calendar": "GREGORIAN", "day_of_month": 25, "day_of_week": 5,
                                   "fallback_value": "February 25, 1977", "hour": 15,
                                   "minute": 33, "month": 2, "year": 1977},
                     "type": "date_time"},
                ], "type": "body"},
            ],
            "language": {"code": "en"},
            "name": "shipping_confirmation",
        },
        "to": TO,
        "type": "template",
    }  # fmt: skip
    assert_accepted(graph.post(MESSAGES, json=example))


def test_issue_resolution_example_with_quick_reply_parameters_is_accepted(
    graph: httpx.Client,
) -> None:
    # "Send Sample Issue Resolution Template", verbatim apart from the recipient.
    example = {
        "messaging_product": "whatsapp",
        "template": {
            "components": [
                {"parameters": [{"text": "*Mr. Jones*", "type": "text"}], "type": "body"},
                {"index": 0, "parameters": [{"text": True, "type": "text"}],
                 "sub_type": "quick_reply", "type": "button"},
                {"index": 1, "parameters": [{"text": False, "type": "text"}],
                 "sub_type": "quick_reply", "type": "button"},
            ],
            "language": {"code": "en_US", "policy": "deterministic"},
            "name": "sample_issue_resolution",
        },
        "to": TO,
        "type": "template",
    }  # fmt: skip
    assert_accepted(graph.post(MESSAGES, json=example))


def test_positional_template_with_image_header_and_url_button(graph: httpx.Client) -> None:
    payload = template_message(
        "promo_akhir_tahun",
        "id",
        promo_components(),
        to="6281234567890",
        biz_opaque_callback_data="campaign-7:message-42",
    )
    assert_accepted(graph.post(MESSAGES, json=payload), to="6281234567890")


def test_template_header_media_by_uploaded_id(graph: httpx.Client) -> None:
    image_id = upload(graph, b"\xff\xd8\xff\xe0jpeg", "image/jpeg", "promo.jpg")
    payload = template_message("promo_akhir_tahun", "en", promo_components({"id": image_id}))
    assert_accepted(graph.post(MESSAGES, json=payload), to="6281234567890")


def test_named_template_with_text_header(graph: httpx.Client) -> None:
    named = [
        ("first_name", "Siti"),
        ("sale_name", "Gajian"),
        ("end_time", "21.00"),
        ("voucher_code", "GAJIAN25"),
    ]
    components = [
        {"type": "header", "parameters": [
            {"type": "text", "parameter_name": "sale_name", "text": "Gajian"}]},
        {"type": "body", "parameters": [
            {"type": "text", "parameter_name": name, "text": value} for name, value in named]},
    ]  # fmt: skip
    payload = template_message("flash_sale", "id", components)
    assert_accepted(graph.post(MESSAGES, json=payload), to="6281234567890")


def test_named_parameters_may_come_in_any_order(graph: httpx.Client) -> None:
    components = [
        {"type": "header", "parameters": [
            {"type": "document", "document": {"link": "https://tokomaju.example/inv.pdf",
                                              "filename": "INV-1024.pdf"}}]},
        {"type": "body", "parameters": [
            {"type": "text", "parameter_name": "due_date", "text": "5 Januari"},
            {"type": "text", "parameter_name": "customer_name", "text": "Budi"},
            {"type": "currency", "parameter_name": "amount", "currency": {
                "fallback_value": "Rp 150.000", "code": "IDR", "amount_1000": 150000000}},
            {"type": "text", "parameter_name": "invoice_number", "text": "INV-1024"},
        ]},
        {"type": "button", "sub_type": "url", "index": "0",
         "parameters": [{"type": "text", "text": "INV-1024"}]},
    ]  # fmt: skip
    payload = template_message("pengingat_pembayaran", "id", components)
    assert_accepted(graph.post(MESSAGES, json=payload), to="6281234567890")


def test_template_without_variables_needs_no_components(graph: httpx.Client) -> None:
    assert_accepted(
        graph.post(MESSAGES, json=template_message("pengumuman_toko", "id")), to="6281234567890"
    )


def test_recipient_formatting_is_echoed_as_input(graph: httpx.Client) -> None:
    # Meta's "Send Single Product Message" response echoes "+1-631-555-5555" as input.
    payload = template_message("info_pengiriman", "id", [body_parameters("JNE1", "JNE", "besok")])
    payload["to"] = "+1-631-555-5555"
    response = graph.post(MESSAGES, json=payload)
    assert response.status_code == 200
    assert response.json()["contacts"] == [{"input": "+1-631-555-5555", "wa_id": "16315555555"}]


def test_every_accepted_message_is_recorded(graph: httpx.Client) -> None:
    wamid = assert_accepted(
        graph.post(
            MESSAGES,
            json=template_message(
                "promo_akhir_tahun", "id", promo_components(), biz_opaque_callback_data="m-1"
            ),
        ),
        to="6281234567890",
    )
    recorded = graph.get("/_sandbox/messages").json()
    assert recorded["total"] == 1
    [message] = recorded["data"]
    assert message["id"] == wamid
    assert message["biz_opaque_callback_data"] == "m-1"
    assert message["template"] == {"name": "promo_akhir_tahun", "language": "id"}
    assert message["text"].startswith("Halo Budi, promo akhir tahun")
