"""Payload builders produce exactly the request bodies of Meta's OpenAPI examples."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput
from sender import payloads
from sender.payloads import (
    QuickReplyButton,
    UrlButton,
    currency_parameter,
    date_time_parameter,
    media_message,
    media_parameter,
    template_message,
    text_message,
    text_parameter,
)

TO = "6281234567890"


def example(**fields: object) -> dict[str, object]:
    """An example body from business-messaging-api_v23.0.yaml, placeholders filled in."""
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO, **fields}


def test_send_text_message_example() -> None:
    expected = example(type="text", text={"body": "text-message-content", "preview_url": False})
    assert text_message(TO, "text-message-content") == expected


def test_send_text_message_with_preview_url_example() -> None:
    body = "Please visit https://youtu.be/hpltvTEiRrY."
    built = text_message("+" + TO, body, preview_url=True)
    assert built["text"] == {"body": body, "preview_url": True}
    assert built["to"] == TO  # the plus of E.164 is dropped


@pytest.mark.parametrize(
    ("kind", "by", "media"),
    [
        ("image", "id", {"id": "IMAGE_OBJECT_ID"}),
        ("image", "link", {"link": "https://image-url"}),
        ("video", "id", {"caption": "VIDEO_CAPTION_TEXT", "id": "VIDEO_OBJECT_ID"}),
        ("video", "link", {"caption": "VIDEO_CAPTION_TEXT", "link": "https://video-url"}),
        (
            "document",
            "id",
            {"caption": "DOCUMENT_CAPTION", "filename": "DOCUMENT.pdf", "id": "DOCUMENT_ID"},
        ),
        ("document", "link", {"caption": "DOCUMENT-CAPTION-TEXT", "link": "https://doc-url"}),
    ],
)
def test_send_media_message_examples(kind: str, by: str, media: dict[str, str]) -> None:
    built = media_message(
        TO,
        kind,  # type: ignore[arg-type]
        link=media.get("link"),
        media_id=media.get("id"),
        caption=media.get("caption"),
        filename=media.get("filename"),
    )
    assert built == example(type=kind, **{kind: media})


def test_send_test_message_example() -> None:
    assert template_message(TO, "hello_world", "en_US") == example(
        type="template", template={"name": "hello_world", "language": {"code": "en_US"}}
    )


CURRENCY = {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990}
DATE_TIME_EXAMPLE = {
    "calendar": "GREGORIAN",
    "day_of_month": 25,
    "day_of_week": 5,
    "fallback_value": "February 25, 1977",
    "hour": 15,
    "minute": 33,
    "month": 2,
    "year": 1977,
}


def test_send_message_template_interactive_example() -> None:
    expected = example(
        type="template",
        template={
            "name": "template_name",
            "language": {"code": "id"},
            "components": [
                {
                    "type": "header",
                    "parameters": [{"type": "image", "image": {"link": "https://the-image-url"}}],
                },
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "text-string"},
                        {"type": "currency", "currency": CURRENCY},
                        {"type": "date_time", "date_time": DATE_TIME_EXAMPLE},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "aGlzIHRoaXMgaXMgY29v"}],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "1",
                    "parameters": [{"type": "payload", "payload": "9rwnB8RbYmPF5t2Mn09x4h"}],
                },
            ],
        },
    )
    built = template_message(
        TO,
        "template_name",
        "id",
        header=media_parameter("image", link="https://the-image-url"),
        body=[
            "text-string",
            currency_parameter("$100.99", "USD", 100990),
            {"type": "date_time", "date_time": DATE_TIME_EXAMPLE},
        ],
        buttons=[
            QuickReplyButton(0, "aGlzIHRoaXMgaXMgY29v"),
            QuickReplyButton(1, "9rwnB8RbYmPF5t2Mn09x4h"),
        ],
    )
    assert built == expected
    # Raw components pass through unchanged, for pre-rendered campaigns.
    assert (
        template_message(TO, "template_name", "id", components=expected["template"]["components"])
        == expected
    )  # type: ignore[index]


def test_named_parameters_carry_parameter_name() -> None:
    built = template_message(
        TO,
        "order_update",
        "en_US",
        header={"store": "Toko Maju"},
        body={"first_name": "Budi", "order_id": "A-17"},
        buttons=[UrlButton(0, "A-17")],
    )
    assert built["template"]["components"] == [
        {
            "type": "header",
            "parameters": [{"type": "text", "parameter_name": "store", "text": "Toko Maju"}],
        },
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": "first_name", "text": "Budi"},
                {"type": "text", "parameter_name": "order_id", "text": "A-17"},
            ],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "A-17"}],
        },
    ]


def test_positional_header_and_document_header() -> None:
    components = payloads.template_components(header="Promo", body=["Budi", "50%"])
    assert components[0] == {"type": "header", "parameters": [{"type": "text", "text": "Promo"}]}
    assert components[1]["parameters"] == [
        {"type": "text", "text": "Budi"},
        {"type": "text", "text": "50%"},
    ]
    document = media_parameter("document", media_id="123", filename="katalog.pdf")
    assert document == {"type": "document", "document": {"id": "123", "filename": "katalog.pdf"}}


def test_typed_parameters() -> None:
    assert date_time_parameter("25 Desember") == {
        "type": "date_time",
        "date_time": {"fallback_value": "25 Desember"},
    }
    assert currency_parameter("Rp15.000", "IDR", 15_000_000, name="price") == {
        "type": "currency",
        "parameter_name": "price",
        "currency": {"fallback_value": "Rp15.000", "code": "IDR", "amount_1000": 15_000_000},
    }
    assert text_parameter("Budi", "first_name")["parameter_name"] == "first_name"


def test_callback_data_is_carried_and_limited() -> None:
    assert text_message(TO, "hi", callback="msg-1")["biz_opaque_callback_data"] == "msg-1"
    assert "biz_opaque_callback_data" not in text_message(TO, "hi")
    assert payloads.callback_data("x" * 512) == "x" * 512
    with pytest.raises(InvalidInput, match="513 characters"):
        text_message(TO, "hi", callback="x" * 513)
    with pytest.raises(InvalidInput, match="non-empty"):
        payloads.callback_data("")


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: text_message("0812", "hi"), "not an international phone number"),
        (lambda: text_message("62 812 3456", "hi"), "not an international phone number"),
        (lambda: text_message(TO, ""), "non-empty"),
        (lambda: text_message(TO, "x" * 4097), "4097 characters"),
        (lambda: media_message(TO, "audio", link="https://a"), "not one of"),  # type: ignore[arg-type]
        (lambda: media_message(TO, "image"), "exactly one"),
        (lambda: media_message(TO, "image", link="https://a", media_id="1"), "exactly one"),
        (lambda: media_message(TO, "image", link="ftp://a/b.png"), "not an http"),
        (lambda: media_message(TO, "image", media_id="1", filename="a.png"), "Only documents"),
        (lambda: template_message(TO, "Promo Akhir", "id"), "lowercase"),
        (lambda: template_message(TO, "promo", "Indonesian"), "language"),
        (lambda: template_message(TO, "promo", "id", body=["Budi", ""]), "non-empty"),
        (lambda: template_message(TO, "promo", "id", body="Budi"), "list or a name"),
        (lambda: template_message(TO, "promo", "id", body=["Budi\nS"]), "line break"),
        (lambda: text_parameter("a     b", "name"), "more than 4 spaces"),
        (
            lambda: template_message(TO, "promo", "id", body=["Budi", text_parameter("x", "y")]),
            "mixes named and positional",
        ),
        (
            lambda: template_message(TO, "promo", "id", body={"First Name": "Budi"}),
            "Variable name",
        ),
        (lambda: template_message(TO, "promo", "id", header={"a": "1", "b": "2"}), "exactly one"),
        (
            lambda: template_message(
                TO, "promo", "id", buttons=[QuickReplyButton(0, "a"), QuickReplyButton(0, "b")]
            ),
            "given twice",
        ),
        (
            lambda: template_message(TO, "promo", "id", components=[], body=["Budi"]),
            "not both",
        ),
        (lambda: currency_parameter("Rp1", "rupiah", 1000), "ISO 4217"),
    ],
)
def test_bad_input_is_refused_with_a_precise_message(build, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=match):
        build()
