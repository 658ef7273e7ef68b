"""Personalization: values, fallbacks, the missing-variable report and exact payloads."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from core.campaigns.personalize import (
    MissingValues,
    Personalizer,
    Recipient,
    as_text,
    missing_report,
)
from core.errors import InvalidInput
from sql.schema import WhatsAppTemplate
from tests.core.campaigns.builders import PROMO_COMPONENTS, PROMO_VARIABLES

ANI = Recipient(uuid.uuid4(), "Ani", "+6281100000001", {"city": "Bandung", "points": 120.0})
NOBODY = Recipient(uuid.uuid4(), "", "+6281100000002", {"city": "  "})


def text(body: str, **fallbacks: str) -> Personalizer:
    return Personalizer("text", {"body": body, "fallbacks": fallbacks})


def promo_template(**changes: Any) -> WhatsAppTemplate:
    values = {
        "name": "promo_akhir_tahun",
        "language": "id",
        "components": PROMO_COMPONENTS,
        "parameter_format": "POSITIONAL",
    } | changes
    return WhatsAppTemplate(**values)


def test_name_phone_and_custom_fields_fill_the_text() -> None:
    payload = text("Halo {name} ({phone}) di {city}, poin {points}").payload(ANI, callback="m1")
    assert payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281100000001",
        "type": "text",
        "biz_opaque_callback_data": "m1",
        "text": {"body": "Halo Ani (+6281100000001) di Bandung, poin 120", "preview_url": False},
    }


def test_fallbacks_cover_missing_and_blank_values() -> None:
    personalizer = text("Halo {name} di {city}", name="Kak", city="kota Anda")
    body = personalizer.payload(NOBODY)["text"]["body"]
    assert body == "Halo Kak di kota Anda"


def test_a_value_missing_without_fallback_is_refused_not_sent_blank() -> None:
    with pytest.raises(MissingValues) as refused:
        text("Halo {name} di {city}", name="Kak").payload(NOBODY)
    assert [slot.label for slot in refused.value.slots] == ["{city}"]
    assert "No value and no fallback for {city}" in refused.value.message


def test_text_that_is_not_a_placeholder_stays_as_written() -> None:
    body = text("Diskon {50%} untuk {name}! { city } {}").payload(ANI)["text"]["body"]
    assert body == "Diskon {50%} untuk Ani! { city } {}"


def test_template_style_double_braces_work_too() -> None:
    assert text("Halo {{name}}, {{ city }}").payload(ANI)["text"]["body"] == "Halo Ani, Bandung"


def test_values_read_as_text() -> None:
    assert as_text(3.0) == "3" and as_text(2.5) == "2.5" and as_text(True) == "yes"
    assert as_text(["a", "", "b"]) == "a, b" and as_text({"x": 1}) is None
    assert as_text("  ") is None and as_text(None) is None


def test_the_missing_variable_report_counts_recipients() -> None:
    people = [ANI] * 3 + [NOBODY] * 2
    report = missing_report(text("{name} {city} {points}", name="Kak"), people)
    assert [str(m) for m in report] == [
        "{city}: 2 of 5 recipients have no value and no fallback",
        "{points}: 2 of 5 recipients have no value and no fallback",
    ]
    many = [ANI] * 8_796 + [NOBODY] * 1_204
    (city,) = missing_report(text("{city}"), many)
    assert str(city) == "{city}: 1,204 of 10,000 recipients have no value and no fallback"


def test_media_messages_personalize_their_caption() -> None:
    personalizer = Personalizer(
        "document",
        {
            "media_id": "4490709327384033",
            "caption": "Katalog untuk {name}",
            "filename": "katalog.pdf",
        },
    )
    assert personalizer.payload(ANI, callback="m2")["document"] == {
        "id": "4490709327384033",
        "caption": "Katalog untuk Ani",
        "filename": "katalog.pdf",
    }
    image = Personalizer("image", {"link": "https://toko.test/a.jpg"}).payload(ANI)
    assert image["type"] == "image" and image["image"] == {"link": "https://toko.test/a.jpg"}


def test_a_rendered_text_over_the_limit_is_refused() -> None:
    long = Recipient(None, "x" * 5000, "+6281100000001", {})
    with pytest.raises(InvalidInput, match="4096"):
        text("Halo {name}").payload(long)


def test_template_variables_from_fields_fixed_values_and_fallbacks() -> None:
    personalizer = Personalizer("template", {}, promo_template(), PROMO_VARIABLES)
    ani = Recipient(None, "Ani\tWidya", "+6281100000001", {"voucher": "ANI-20"})
    payload = personalizer.payload(ani, callback="m3")
    assert payload["type"] == "template"
    assert payload["biz_opaque_callback_data"] == "m3"
    assert payload["template"] == {
        "name": "promo_akhir_tahun",
        "language": {"code": "id"},
        "components": [
            {
                "type": "header",
                "parameters": [{"type": "image", "image": {"link": "https://toko.test/promo.jpg"}}],
            },
            {
                "type": "body",
                "parameters": [
                    # A tab would make WhatsApp refuse the message (132012): it becomes a space.
                    {"type": "text", "text": "Ani Widya"},
                    {"type": "text", "text": "20%"},
                ],
            },
            {
                "type": "button",
                "sub_type": "url",
                "index": "1",
                "parameters": [{"type": "text", "text": "ANI-20"}],
            },
        ],
    }
    nameless = Recipient(None, None, "+6281100000002", {"voucher": "V"})
    body = personalizer.payload(nameless)["template"]["components"][1]["parameters"]
    assert body[0] == {"type": "text", "text": "Kak"}
    with pytest.raises(MissingValues) as refused:
        personalizer.payload(Recipient(None, "Budi", "+6281100000002", {}))
    assert [s.label for s in refused.value.slots] == ["button.1.1 ({voucher})"]


def test_named_template_parameters_carry_their_names() -> None:
    components = [
        {
            "type": "BODY",
            "text": "Halo {{first_name}}",
            "example": {
                "body_text_named_params": [{"param_name": "first_name", "example": "Budi"}]
            },
        }
    ]
    personalizer = Personalizer(
        "template",
        {},
        promo_template(components=components, parameter_format="NAMED"),
        {"body.first_name": {"source": "field", "value": "name"}},
    )
    (body,) = personalizer.payload(ANI)["template"]["components"]
    assert body["parameters"] == [{"type": "text", "text": "Ani", "parameter_name": "first_name"}]


def test_preview_text_shows_what_is_missing() -> None:
    assert text("Halo {name} di {city}").text(NOBODY) == "Halo {name} di {city}"
    personalizer = Personalizer("template", {}, promo_template(), PROMO_VARIABLES)
    shown = personalizer.text(Recipient(None, "Budi", "+6281100000002", {}))
    assert shown == (
        "Halo Budi, diskon 20% untuk pelanggan di kota Anda!\n\nBalas STOP untuk berhenti"
    )


def test_compiled_templates_match_send_components_exactly() -> None:
    from core.templates import send_components

    template = promo_template()
    personalizer = Personalizer("template", {}, template, PROMO_VARIABLES)
    for name, voucher in [("Ani", "A-1"), ("Budi  Santoso\n", "B 2"), ("Çağrı 李", "x" * 300)]:
        recipient = Recipient(None, name, "+6281100000001", {"voucher": voucher})
        expected = send_components(
            template.components,
            {
                "header.media": "https://toko.test/promo.jpg",
                "body.1": " ".join(name.split()),
                "body.2": "20%",
                "button.1.1": " ".join(voucher.split()),
            },
            "POSITIONAL",
        )
        assert personalizer.payload(recipient)["template"]["components"] == expected


def test_a_rendered_template_body_over_the_limit_is_refused() -> None:
    personalizer = Personalizer("template", {}, promo_template(), PROMO_VARIABLES)
    long = Recipient(None, "x" * 1_000, "+6281100000001", {"voucher": "v"})
    with pytest.raises(InvalidInput) as refused:
        personalizer.payload(long)
    # The same words core.templates.render uses for the same values.
    assert refused.value.message == (
        "Template values rejected: body: rendered body is 1047 characters; the limit is 1024"
    )


def test_an_unmapped_template_variable_cannot_be_sent() -> None:
    partial = {k: v for k, v in PROMO_VARIABLES.items() if k != "body.2"}
    personalizer = Personalizer("template", {}, promo_template(), partial)
    with pytest.raises(InvalidInput, match=r"body\.2: missing value"):
        personalizer.payload(Recipient(None, "Ani", "+6281100000001", {"voucher": "v"}))
    by_field = dict(PROMO_VARIABLES, **{"header.media": {"source": "field", "value": "photo"}})
    with pytest.raises(InvalidInput, match="image header needs a fixed link"):
        Personalizer("template", {}, promo_template(), by_field).payload(
            Recipient(None, "Ani", "+6281100000001", {"voucher": "v", "photo": "https://a.test/x"})
        )
