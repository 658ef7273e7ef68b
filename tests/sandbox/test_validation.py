"""Every synchronous error the sandbox answers with, in Meta's shape and HTTP status."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import (
    MESSAGES,
    PHONE_ID,
    TOKEN,
    VERSION,
    body_parameters,
    graph_error,
    promo_components,
    template_message,
    text_message,
)


def expect_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = graph_error(response)
    assert error["code"] == code, error
    if code >= 130000:  # WhatsApp's own codes carry their title: "(#131009) Parameter..."
        assert error["message"].startswith(f"(#{code}) "), error
    return error


def test_missing_token_is_190(sandbox: Any) -> None:
    response = httpx.post(sandbox.url + MESSAGES, json=text_message())
    error = expect_error(response, 401, 190)
    assert "access token" in error["message"]
    assert "WWW-Authenticate" in response.headers


def test_wrong_token_is_190(sandbox: Any) -> None:
    response = httpx.post(
        sandbox.url + MESSAGES, json=text_message(), headers={"Authorization": "Bearer nope"}
    )
    expect_error(response, 401, 190)


def test_token_in_query_string_is_accepted(sandbox: Any) -> None:
    response = httpx.post(
        sandbox.url + MESSAGES, params={"access_token": TOKEN}, json=text_message()
    )
    assert response.status_code == 200


def test_unknown_phone_number_id_is_unsupported_request(graph: httpx.Client) -> None:
    response = graph.post(f"/{VERSION}/999999999/messages", json=text_message())
    error = expect_error(response, 400, 100)
    assert error["error_subcode"] == 33
    assert "Object with ID '999999999' does not exist" in error["message"]


@pytest.mark.parametrize("version", ["25.0", "v25", "latest"])
def test_malformed_version_is_unknown_path(graph: httpx.Client, version: str) -> None:
    expect_error(graph.post(f"/{version}/{PHONE_ID}/messages", json=text_message()), 400, 2500)


def test_any_version_by_default_or_the_configured_ones(make_sandbox: Any) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    anything = make_sandbox()
    response = httpx.post(
        f"{anything.url}/v31.0/{PHONE_ID}/messages", json=text_message(), headers=headers
    )
    assert response.status_code == 200
    restricted = make_sandbox(api_versions=["v24.0", "v25.0"])
    for version, status in (("v25.0", 200), ("v31.0", 400), ("v23.0", 400)):
        response = httpx.post(
            f"{restricted.url}/{version}/{PHONE_ID}/messages", json=text_message(), headers=headers
        )
        assert response.status_code == status


def test_unknown_edge_is_unknown_path(graph: httpx.Client) -> None:
    expect_error(graph.get(f"/{VERSION}/{PHONE_ID}/calls"), 400, 2500)
    expect_error(graph.post(f"/{VERSION}/{PHONE_ID}/calls/123/accept"), 400, 2500)


def test_oversized_body_is_100(graph: httpx.Client) -> None:
    response = graph.post(MESSAGES, json=text_message(body="x" * 2_000_000))
    assert "larger than 1 MB" in expect_error(response, 400, 100)["error_data"]["details"]


def _media(kind: str, media: dict[str, Any]) -> dict[str, Any]:
    return {**text_message(), "type": kind, kind: media}


MALFORMED = [
    pytest.param({"to": "6281234567890", "text": {"body": "x"}}, 100, "messaging_product",
                 id="no-messaging-product"),
    pytest.param(text_message(messaging_product="sms"), 100, "messaging_product",
                 id="wrong-messaging-product"),
    pytest.param(text_message(recipient_type="group"), 100, "recipient_type", id="group"),
    pytest.param({**text_message(), "to": None}, 100, "to", id="no-to"),
    pytest.param(text_message(to="0812-3456-7890"), 131009, "not a valid phone number",
                 id="local-number"),
    pytest.param(text_message(to="62 812 ABC 7890"), 131009, "not a valid phone number",
                 id="letters-in-number"),
    pytest.param(text_message(to="1234567890123456"), 131009, "not a valid phone number",
                 id="sixteen-digits"),
    pytest.param(text_message(to="+62 811-0000-0000"), 131021, "business phone number",
                 id="to-self"),
    pytest.param({**text_message(), "text": {}}, 100, "text['body']", id="no-text-body"),
    pytest.param(text_message(body="x" * 4097), 100, "at most 4096", id="text-too-long"),
    pytest.param(text_message(biz_opaque_callback_data="x" * 513), 100,
                 "biz_opaque_callback_data", id="callback-too-long"),
    pytest.param(_media("audio", {"id": "1"}), 100, "does not emulate", id="audio"),
    pytest.param({**text_message(), "type": "carrier_pigeon"}, 100, "type must be one of",
                 id="unknown-type"),
    pytest.param(_media("image", {}), 100, "exactly one of", id="media-without-source"),
    pytest.param(_media("image", {"id": "1", "link": "https://x.io/a"}), 100, "exactly one of",
                 id="media-with-both-sources"),
    pytest.param(_media("image", {"link": "ftp://x/a.jpg"}), 100, "http(s)", id="ftp-link"),
    pytest.param(_media("image", {"link": "https://x.io/a", "filename": "a"}), 100, "filename",
                 id="image-filename"),
    pytest.param(_media("video", {"id": "123"}), 131009, "not uploaded", id="unknown-media-id"),
    pytest.param(_media("document", {"link": "https://x.io/a.pdf", "caption": "c" * 1025}), 100,
                 "caption", id="caption-too-long"),
]  # fmt: skip


@pytest.mark.parametrize(("payload", "code", "fragment"), MALFORMED)
def test_malformed_requests(
    graph: httpx.Client, payload: dict[str, Any], code: int, fragment: str
) -> None:
    error = expect_error(graph.post(MESSAGES, json=payload), 400, code)
    assert fragment in error["error_data"]["details"]
    assert error["error_data"]["messaging_product"] == "whatsapp"


def test_invalid_json_is_100(graph: httpx.Client) -> None:
    response = graph.post(
        MESSAGES, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    expect_error(response, 400, 100)


def test_media_id_of_another_kind_is_rejected(graph: httpx.Client) -> None:
    uploaded = graph.post(
        f"/{VERSION}/{PHONE_ID}/media",
        data={"messaging_product": "whatsapp", "type": "application/pdf"},
        files={"file": ("k.pdf", b"%PDF-1.4", "application/pdf")},
    ).json()["id"]
    payload = {**text_message(), "type": "image", "image": {"id": uploaded}}
    error = expect_error(graph.post(MESSAGES, json=payload), 400, 131009)
    assert "document, not a(n) image" in error["error_data"]["details"]


# --- templates -------------------------------------------------------------------------


def test_unknown_template_is_132001_not_found(graph: httpx.Client) -> None:
    response = graph.post(MESSAGES, json=template_message("promo_tidak_ada", "id"))
    error = expect_error(response, 404, 132001)
    assert error["message"] == "(#132001) Template name does not exist in the translation"
    assert error["error_data"]["details"] == "template name (promo_tidak_ada) does not exist in id"


def test_template_in_missing_language_is_132001(graph: httpx.Client) -> None:
    response = graph.post(MESSAGES, json=template_message("flash_sale", "en", []))
    assert "does not exist in en" in expect_error(response, 404, 132001)["error_data"]["details"]


@pytest.mark.parametrize(
    ("name", "language", "status", "code"),
    [
        ("ulang_tahun_pelanggan", "id", 404, 132001),  # PENDING
        ("survei_kepuasan", "id", 404, 132001),  # REJECTED
        ("appointment_reminder", "en", 404, 132001),  # IN_APPEAL
        ("promo_gajian", "id", 400, 132015),  # PAUSED
        ("cuci_gudang", "id", 400, 132016),  # DISABLED
    ],
)
def test_templates_that_are_not_approved(
    graph: httpx.Client, name: str, language: str, status: int, code: int
) -> None:
    response = graph.post(MESSAGES, json=template_message(name, language, [body_parameters("a")]))
    expect_error(response, status, code)


def test_wrong_body_parameter_count_is_132000(graph: httpx.Client) -> None:
    components = promo_components()
    components[1] = body_parameters("Budi", "50%")
    error = expect_error(
        graph.post(MESSAGES, json=template_message("promo_akhir_tahun", "id", components)),
        400,
        132000,
    )
    assert error["error_data"]["details"] == (
        "body: number of localizable_params (2) does not match the expected number of params (3)"
    )


def test_missing_media_header_is_132000(graph: httpx.Client) -> None:
    components = promo_components()[1:]
    expect_error(
        graph.post(MESSAGES, json=template_message("promo_akhir_tahun", "id", components)),
        400,
        132000,
    )


def test_missing_url_button_parameter_is_132000(graph: httpx.Client) -> None:
    components = promo_components()[:2]
    error = expect_error(
        graph.post(MESSAGES, json=template_message("promo_akhir_tahun", "id", components)),
        400,
        132000,
    )
    assert "button at index 1" in error["error_data"]["details"]


def test_header_media_type_mismatch_is_132012(graph: httpx.Client) -> None:
    components = promo_components()
    components[0] = {
        "type": "header",
        "parameters": [{"type": "document", "document": {"link": "https://x.io/a.pdf"}}],
    }
    error = expect_error(
        graph.post(MESSAGES, json=template_message("promo_akhir_tahun", "id", components)),
        400,
        132012,
    )
    assert "IMAGE" in error["error_data"]["details"]


def test_parameter_name_on_a_positional_template_is_132012(graph: httpx.Client) -> None:
    components = [
        {"type": "body", "parameters": [
            {"type": "text", "parameter_name": "resi", "text": "JNE1"},
            {"type": "text", "text": "JNE"}, {"type": "text", "text": "besok"}]},
    ]  # fmt: skip
    expect_error(
        graph.post(MESSAGES, json=template_message("info_pengiriman", "id", components)),
        400,
        132012,
    )


def test_named_template_without_parameter_names_is_132012(graph: httpx.Client) -> None:
    components = [
        {"type": "header", "parameters": [{"type": "text", "text": "Gajian"}]},
        body_parameters("Siti", "Gajian", "21.00", "GAJIAN25"),
    ]
    expect_error(
        graph.post(MESSAGES, json=template_message("flash_sale", "id", components)), 400, 132012
    )


def test_named_template_with_unknown_name_is_132012(graph: httpx.Client) -> None:
    names = ["first_name", "sale_name", "end_time", "kode_voucher"]
    components = [
        {"type": "header", "parameters": [
            {"type": "text", "parameter_name": "sale_name", "text": "Gajian"}]},
        {"type": "body", "parameters": [
            {"type": "text", "parameter_name": name, "text": "x"} for name in names]},
    ]  # fmt: skip
    error = expect_error(
        graph.post(MESSAGES, json=template_message("flash_sale", "id", components)), 400, 132012
    )
    assert "kode_voucher" in error["error_data"]["details"]


def test_named_template_with_missing_parameter_is_132000(graph: httpx.Client) -> None:
    components = [
        {"type": "header", "parameters": [
            {"type": "text", "parameter_name": "sale_name", "text": "Gajian"}]},
        {"type": "body", "parameters": [
            {"type": "text", "parameter_name": "first_name", "text": "Siti"}]},
    ]  # fmt: skip
    expect_error(
        graph.post(MESSAGES, json=template_message("flash_sale", "id", components)), 400, 132000
    )


def test_body_parameter_with_newline_is_rejected(graph: httpx.Client) -> None:
    components = [body_parameters("JNE1\nJNE2", "JNE", "besok")]
    error = expect_error(
        graph.post(MESSAGES, json=template_message("info_pengiriman", "id", components)), 400, 100
    )
    assert "new-line" in error["error_data"]["details"]


def test_rendered_body_too_long_is_132005(graph: httpx.Client) -> None:
    components = [body_parameters("J" * 1000, "JNE", "besok")]
    expect_error(
        graph.post(MESSAGES, json=template_message("info_pengiriman", "id", components)),
        400,
        132005,
    )


def test_button_that_does_not_exist_is_131009(graph: httpx.Client) -> None:
    components = [
        *promo_components(),
        {"type": "button", "sub_type": "url", "index": "5",
         "parameters": [{"type": "text", "text": "x"}]},
    ]  # fmt: skip
    expect_error(
        graph.post(MESSAGES, json=template_message("promo_akhir_tahun", "id", components)),
        400,
        131009,
    )


def test_currency_without_fallback_is_rejected(graph: httpx.Client) -> None:
    components = [
        {"type": "header", "parameters": [
            {"type": "image", "image": {"link": "https://x.io/a.jpg"}}]},
        {"type": "body", "parameters": [
            {"type": "text", "text": "Budi"},
            {"type": "currency", "currency": {"code": "USD", "amount_1000": 1}},
            {"type": "text", "text": "besok"}]},
    ]  # fmt: skip
    expect_error(
        graph.post(MESSAGES, json=template_message("shipping_confirmation", "en", components)),
        400,
        100,
    )
