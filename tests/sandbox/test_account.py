"""Phone-number info, the WABA node, template listing with cursor pagination, media upload."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import PHONE_ID, VERSION, WABA_ID, graph_error

TEMPLATES = f"/{VERSION}/{WABA_ID}/message_templates"
MEDIA = f"/{VERSION}/{PHONE_ID}/media"
PHONE_FIELDS = (
    "display_phone_number,verified_name,quality_rating,throughput,"
    "whatsapp_business_manager_messaging_limit"
)


def test_phone_number_info_as_in_the_contract(graph: httpx.Client) -> None:
    response = graph.get(f"/{VERSION}/{PHONE_ID}", params={"fields": PHONE_FIELDS})
    assert response.status_code == 200
    assert response.json() == {
        "display_phone_number": "+62 811-0000-0000",
        "verified_name": "Toko Maju",
        "quality_rating": "GREEN",
        "throughput": {"level": "STANDARD"},
        "whatsapp_business_manager_messaging_limit": "TIER_2K",
        "id": PHONE_ID,
    }


def test_phone_number_info_follows_the_config(make_sandbox: Any) -> None:
    server = make_sandbox(
        throughput_per_second=1000, quality_rating="YELLOW", messaging_limit="TIER_100K"
    )
    response = httpx.get(
        f"{server.url}/{VERSION}/{PHONE_ID}",
        params={"fields": PHONE_FIELDS, "access_token": "test-token"},
    ).json()
    assert response["throughput"] == {"level": "HIGH"}
    assert response["quality_rating"] == "YELLOW"
    assert response["whatsapp_business_manager_messaging_limit"] == "TIER_100K"


def test_phone_number_default_fields(graph: httpx.Client) -> None:
    body = graph.get(f"/{VERSION}/{PHONE_ID}").json()
    assert {"verified_name", "display_phone_number", "quality_rating", "id"} <= set(body)


def test_unknown_field_is_an_error(graph: httpx.Client) -> None:
    response = graph.get(f"/{VERSION}/{PHONE_ID}", params={"fields": "verified_name,password"})
    assert response.status_code == 400
    assert graph_error(response)["message"] == (
        "(#100) Tried accessing nonexisting field (password) on node type "
        "(WhatsAppBusinessPhoneNumber)"
    )


def test_waba_and_template_nodes(graph: httpx.Client) -> None:
    waba = graph.get(f"/{VERSION}/{WABA_ID}").json()
    assert waba["id"] == WABA_ID and waba["name"] == "Toko Maju"
    first = graph.get(TEMPLATES, params={"limit": 1}).json()["data"][0]
    node = graph.get(f"/{VERSION}/{first['id']}", params={"fields": "name,status"}).json()
    assert node == {"name": first["name"], "status": first["status"], "id": first["id"]}


def test_unknown_node_is_unsupported_get(graph: httpx.Client) -> None:
    response = graph.get(f"/{VERSION}/123456789")
    assert response.status_code == 400
    error = graph_error(response)
    assert error["code"] == 100 and error["error_subcode"] == 33
    assert error["message"].startswith("Unsupported get request.")


# --- templates ------------------------------------------------------------------------


def _all_pages(graph: httpx.Client, params: dict[str, Any]) -> list[list[dict[str, Any]]]:
    pages = []
    response = graph.get(TEMPLATES, params=params).json()
    while True:
        pages.append(response["data"])
        next_url = response.get("paging", {}).get("next")
        if next_url is None:
            return pages
        assert next_url.startswith("http://127.0.0.1:")  # absolute, as Graph's paging.next
        response = graph.get(next_url).json()


def test_library_is_realistic(graph: httpx.Client) -> None:
    fields = "name,status,category,language,components,parameter_format"
    templates = [t for page in _all_pages(graph, {"fields": fields}) for t in page]
    assert len(templates) >= 15
    assert {t["language"] for t in templates} >= {"id", "en"}
    assert {t["category"] for t in templates} >= {"MARKETING", "UTILITY", "AUTHENTICATION"}
    assert {t["status"] for t in templates} >= {"APPROVED", "PENDING", "REJECTED", "PAUSED"}
    assert {t["parameter_format"] for t in templates} == {"POSITIONAL", "NAMED"}
    header_formats = {
        c.get("format") for t in templates for c in t["components"] if c["type"] == "HEADER"
    }
    assert header_formats >= {"TEXT", "IMAGE", "DOCUMENT", "VIDEO"}
    buttons = [
        b
        for t in templates
        for c in t["components"]
        if c["type"] == "BUTTONS"
        for b in c["buttons"]
    ]
    assert {"type": "QUICK_REPLY", "text": "Stop promosi"} in buttons
    assert any(b["type"] == "URL" for b in buttons)


def test_pagination_visits_every_template_once(graph: httpx.Client) -> None:
    generated = graph.post("/_sandbox/templates/generate", json={"count": 230, "prefix": "bulk"})
    assert generated.status_code == 201
    total = generated.json()["total"]
    pages = _all_pages(graph, {"limit": 50, "fields": "name,language,status"})
    assert [len(page) for page in pages[:-1]] == [50] * (len(pages) - 1)
    ids = [t["id"] for page in pages for t in page]
    assert len(ids) == len(set(ids)) == total
    assert set(pages[0][0]) == {"name", "language", "status", "id"}


def test_cursors_go_forward_and_back(graph: httpx.Client) -> None:
    first = graph.get(TEMPLATES, params={"limit": 4}).json()
    assert "previous" not in first["paging"]
    second = graph.get(TEMPLATES, params={"limit": 4, "after": first["paging"]["cursors"]["after"]})
    second_page = second.json()
    assert second_page["data"][0]["id"] != first["data"][-1]["id"]
    back = graph.get(second_page["paging"]["previous"]).json()
    assert [t["id"] for t in back["data"]] == [t["id"] for t in first["data"]]


def test_template_filters(graph: httpx.Client) -> None:
    approved = graph.get(TEMPLATES, params={"status": "APPROVED", "limit": 100}).json()["data"]
    assert approved and {t["status"] for t in approved} == {"APPROVED"}
    english = graph.get(TEMPLATES, params={"language": "en", "limit": 100}).json()["data"]
    assert english and {t["language"] for t in english} == {"en"}


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "abc"}, {"after": "not-a-cursor!"}, {"fields": "secret"}]
)
def test_bad_listing_parameters(graph: httpx.Client, params: dict[str, str]) -> None:
    response = graph.get(TEMPLATES, params=params)
    assert response.status_code == 400
    assert graph_error(response)["code"] == 100


def test_empty_page_after_the_last_cursor(graph: httpx.Client) -> None:
    last = _all_pages(graph, {"limit": 100})[-1][-1]
    everything = graph.get(TEMPLATES, params={"limit": 1000}).json()
    cursor = everything["paging"]["cursors"]["after"]
    assert everything["data"][-1]["id"] == last["id"]
    assert graph.get(TEMPLATES, params={"after": cursor}).json() == {
        "data": [],
        "paging": {"cursors": {}},
    }


def test_add_and_delete_a_template(graph: httpx.Client) -> None:
    definition = {
        "name": "promo_lebaran",
        "language": "id",
        "category": "MARKETING",
        "components": [
            {"type": "BODY", "text": "Halo {{1}}, diskon Lebaran {{2}}!",
             "example": {"body_text": [["Budi", "20%"]]}},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Stop promosi"}]},
        ],
    }  # fmt: skip
    created = graph.post("/_sandbox/templates", json=definition)
    assert created.status_code == 201
    template_id = created.json()["data"][0]["id"]
    listed = graph.get(TEMPLATES, params={"name": "promo_lebaran"}).json()["data"]
    assert [t["id"] for t in listed] == [template_id]
    duplicate = graph.post("/_sandbox/templates", json=definition)
    assert duplicate.status_code == 422 and "already exists" in duplicate.text
    assert graph.delete(f"/_sandbox/templates/{template_id}").status_code == 200
    assert graph.get(TEMPLATES, params={"name": "promo_lebaran"}).json()["data"] == []


@pytest.mark.parametrize(
    ("definition", "fragment"),
    [
        ({"name": "Promo Besar", "language": "id", "category": "MARKETING"}, "name"),
        ({"name": "x", "language": "indonesian", "category": "MARKETING"}, "language"),
        ({"name": "x", "language": "id", "category": "SPAM"}, "category"),
        ({"name": "x", "language": "id", "category": "UTILITY", "components": []}, "components"),
        (
            {"name": "x", "language": "id", "category": "UTILITY",
             "components": [{"type": "BODY", "text": "Hai {{1}} dan {{3}}"}]},
            "in order",
        ),
        (
            {"name": "x", "language": "id", "category": "UTILITY",
             "components": [{"type": "BODY", "text": "Hai {{1}} {{nama}}"}]},
            "not both",
        ),
        (
            {"name": "x", "language": "id", "category": "UTILITY",
             "components": [{"type": "HEADER", "format": "GIF"}, {"type": "BODY", "text": "Hai"}]},
            "HEADER format",
        ),
    ],
)  # fmt: skip
def test_invalid_template_definitions_are_refused(
    graph: httpx.Client, definition: dict[str, Any], fragment: str
) -> None:
    response = graph.post("/_sandbox/templates", json=definition)
    assert response.status_code == 422
    assert fragment in response.json()["error"]["message"]


# --- media ------------------------------------------------------------------------------


def _upload(graph: httpx.Client, content: bytes, mime: str, **data: str) -> httpx.Response:
    fields = {"messaging_product": "whatsapp", "type": mime, **data}
    return graph.post(MEDIA, data=fields, files={"file": ("upload.bin", content, mime)})


def test_upload_returns_a_media_id(graph: httpx.Client) -> None:
    response = _upload(graph, b"\x89PNG\r\n\x1a\n" + b"x" * 2048, "image/png")
    assert response.status_code == 200
    media_id = response.json()["id"]
    assert set(response.json()) == {"id"} and media_id.isdigit()
    [item] = graph.get("/_sandbox/media").json()["data"]
    assert item["id"] == media_id and item["type"] == "image" and item["file_size"] == 2056


def test_upload_type_comes_from_the_file_part_when_not_given(graph: httpx.Client) -> None:
    response = graph.post(
        MEDIA,
        data={"messaging_product": "whatsapp"},
        files={"file": ("clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")},
    )
    assert response.status_code == 200


def test_upload_of_an_unsupported_type(graph: httpx.Client) -> None:
    response = _upload(graph, b"GIF89a", "image/gif")
    assert response.status_code == 400
    error = graph_error(response)
    assert error["code"] == 100
    assert "Received file of type 'image/gif'" in error["error_data"]["details"]


def test_upload_over_the_size_limit_is_131053(graph: httpx.Client) -> None:
    response = _upload(graph, b"\xff" * (5 * 1024 * 1024 + 1), "image/jpeg")
    assert response.status_code == 400
    error = graph_error(response)
    assert error["code"] == 131053
    assert "limited to 5 MB" in error["error_data"]["details"]


def test_upload_needs_messaging_product_and_file(graph: httpx.Client) -> None:
    no_product = graph.post(
        MEDIA, data={"type": "image/png"}, files={"file": ("a", b"x", "image/png")}
    )
    assert (
        graph_error(no_product)["message"] == "(#100) The parameter messaging_product is required."
    )
    no_file = graph.post(MEDIA, files={"messaging_product": (None, "whatsapp")})
    assert graph_error(no_file)["message"] == "(#100) The parameter file is required."
