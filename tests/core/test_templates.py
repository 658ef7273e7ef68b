"""Template variables, previews and send-time parameters, on Meta-shaped components."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput
from core.templates import extract_variables, render, sample_values, send_components

PROMO = [
    {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["https://x/h.jpg"]}},
    {
        "type": "BODY",
        "text": "Halo {{1}}, diskon {{2}} untuk member {{3}}!",
        "example": {"body_text": [["Budi", "20%", "gold"]]},
    },
    {"type": "FOOTER", "text": "Balas STOP untuk berhenti"},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "QUICK_REPLY", "text": "Stop promosi"},
            {"type": "URL", "text": "Belanja", "url": "https://toko.id/p/{{1}}", "example": ["a1"]},
        ],
    },
]

NAMED = [
    {"type": "HEADER", "format": "TEXT", "text": "Pesanan {{order_id}}",
     "example": {"header_text_named_params": [{"param_name": "order_id", "example": "A-1"}]}},
    {"type": "BODY", "text": "Hi {{first_name}}, your order {{order_id}} has shipped.",
     "example": {"body_text_named_params": [
         {"param_name": "first_name", "example": "Ani"},
         {"param_name": "order_id", "example": "A-1"},
     ]}},
]  # fmt: skip


def test_variables_in_meta_order() -> None:
    keys = [v.key for v in extract_variables(PROMO)]
    assert keys == ["header.media", "body.1", "body.2", "body.3", "button.1.1"]
    assert [v.key for v in extract_variables(NAMED)] == [
        "header.order_id",
        "body.first_name",
        "body.order_id",
    ]


def test_sample_values_come_from_meta_examples() -> None:
    assert sample_values(PROMO)["body.1"] == "Budi"
    assert sample_values(NAMED) == {
        "header.order_id": "A-1",
        "body.first_name": "Ani",
        "body.order_id": "A-1",
    }


def test_render_fills_every_part() -> None:
    values = sample_values(PROMO)
    rendered = render(PROMO, values)
    assert rendered.body == "Halo Budi, diskon 20% untuk member gold!"
    assert rendered.header_media == {"type": "image", "value": "https://x/h.jpg"}
    assert rendered.buttons[1]["url"] == "https://toko.id/p/a1"
    assert rendered.footer == "Balas STOP untuk berhenti"


def test_missing_extra_and_bad_values_are_each_named() -> None:
    values = sample_values(PROMO)
    del values["body.2"]
    values["body.9"] = "x"
    values["body.3"] = "two\nlines"
    with pytest.raises(InvalidInput) as caught:
        render(PROMO, values)
    paths = {(e["path"], e["message"]) for e in caught.value.errors}
    assert ("body.2", "missing value") in paths
    assert ("body.9", "this template has no such variable") in paths
    assert any(p == "body.3" and "new lines" in m for p, m in paths)


def test_over_long_rendering_is_refused() -> None:
    values = sample_values(NAMED) | {"header.order_id": "X" * 60}
    with pytest.raises(InvalidInput, match="rendered header is 68 characters; the limit is 60"):
        render(NAMED, values)


def test_send_components_positional_and_named() -> None:
    positional = send_components(PROMO, sample_values(PROMO), "POSITIONAL")
    assert positional == [
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x/h.jpg"}}]},
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Budi"},
                {"type": "text", "text": "20%"},
                {"type": "text", "text": "gold"},
            ],
        },
        {"type": "button", "sub_type": "url", "index": "1", "parameters": [
            {"type": "text", "text": "a1"}]},
    ]  # fmt: skip
    named = send_components(NAMED, sample_values(NAMED), "NAMED")
    assert named[1]["parameters"][0] == {
        "type": "text",
        "text": "Ani",
        "parameter_name": "first_name",
    }
