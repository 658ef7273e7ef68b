"""Message content: drafts may be incomplete, but never malformed; readiness lists gaps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.campaigns.content import check_draft, placeholders, problems
from core.errors import InvalidInput
from sql.schema import WhatsAppTemplate
from tests.core.campaigns.builders import PROMO_COMPONENTS, PROMO_VARIABLES


def promo(**changes: object) -> WhatsAppTemplate:
    values = {
        "name": "promo",
        "language": "id",
        "status": "APPROVED",
        "components": PROMO_COMPONENTS,
        "parameter_format": "POSITIONAL",
    } | changes
    return WhatsAppTemplate(**values)


def test_incomplete_drafts_are_fine() -> None:
    check_draft("text", {}, {})
    check_draft("image", {"caption": "Halo {name}"}, {})
    check_draft("template", {}, {"body.1": {"source": "field", "value": "name"}})


def test_malformed_drafts_name_each_problem() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_draft(
            "document",
            {"link": "https://x.test/a.pdf", "media_id": "1", "filename": 3, "fallbacks": []},
            {},
        )
    assert {(e["path"], e["message"]) for e in refused.value.errors} == {
        ("message_content.filename", "expected text"),
        ("message_content", "give either a link or a media id, not both"),
        ("message_content.fallbacks", "expected an object"),
    }
    with pytest.raises(InvalidInput) as refused:
        check_draft(
            "template",
            {"body": "x"},
            {"footer.1": {"source": "field", "value": "name"},
             "body.1": {"source": "column", "value": "", "extra": 1}},
        )  # fmt: skip
    assert {e["path"] for e in refused.value.errors} == {
        "message_content.body",
        "template_variables.footer.1",
        "template_variables.body.1.source",
        "template_variables.body.1.value",
        "template_variables.body.1.extra",
    }
    with pytest.raises(InvalidInput, match="expected one of text, image"):
        check_draft("sticker", {}, {})


def test_placeholders_are_found_once_in_order() -> None:
    assert placeholders("{name}, {city} {name} {{ voucher }} {50%}") == ["name", "city", "voucher"]


def test_what_text_and_media_still_need() -> None:
    assert problems("text", {"body": " "}, None, {}) == ["The message text is empty."]
    assert problems("text", {"body": "Halo"}, None, {}) == []
    assert problems("video", {"caption": "x"}, None, {}) == [
        "The video has no media: give an https:// link or upload a file."
    ]


def test_what_a_template_message_still_needs() -> None:
    assert problems("template", {}, None, {}) == ["No WhatsApp template is chosen."]
    assert problems("template", {}, promo(), PROMO_VARIABLES) == []
    assert problems("template", {}, promo(status="REJECTED"), PROMO_VARIABLES) == [
        "Template 'promo' (id) is REJECTED; only APPROVED templates can be sent."
    ]
    removed = promo(removed_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert "no longer exists on WhatsApp" in problems("template", {}, removed, PROMO_VARIABLES)[0]
    partial = {k: v for k, v in PROMO_VARIABLES.items() if k != "body.2"}
    partial["body.9"] = {"source": "fixed", "value": "x"}
    assert problems("template", {}, promo(), partial) == [
        "Template 'promo' (id): variable body.2 has no value mapped.",
        "Template 'promo' (id) has no variable body.9; remove its mapping.",
    ]
    by_field = dict(PROMO_VARIABLES, **{"header.media": {"source": "field", "value": "photo"}})
    assert problems("template", {}, promo(), by_field) == [
        "Template 'promo' (id): the image header needs a fixed link or media id."
    ]
    bad_fixed = dict(PROMO_VARIABLES, **{"body.2": {"source": "fixed", "value": "a\nb"}})
    assert problems("template", {}, promo(), bad_fixed) == [
        "Template 'promo' (id): body.2: values cannot contain new lines, tabs or more than 4 "
        "consecutive spaces"
    ]
