"""The error model: every code of the contract's table lands in the class the sender needs."""

from __future__ import annotations

import random

import pytest

from sender.backoff import Backoff
from sender.errors import (
    CampaignFatalError,
    CloudApiError,
    EngagementLimitError,
    PairRateLimitError,
    RecipientError,
    RecipientOptedOutError,
    ThrottledError,
    TransientError,
    classify,
    error_from_response,
    error_from_webhook,
)

# The contract's table (../shared/whatsapp-cloud-api.md, "Errors"), row by row.
CONTRACT_TABLE: list[tuple[int, type[CloudApiError]]] = [
    (0, CampaignFatalError),
    (190, CampaignFatalError),
    (3, CampaignFatalError),
    (10, CampaignFatalError),
    (200, CampaignFatalError),
    (299, CampaignFatalError),
    (4, ThrottledError),
    (80007, ThrottledError),
    (130429, ThrottledError),
    (131048, CampaignFatalError),
    (131056, PairRateLimitError),
    (131049, EngagementLimitError),
    (131050, RecipientOptedOutError),
    (131026, RecipientError),
    (131047, RecipientError),
    (131051, RecipientError),
    (131052, RecipientError),
    (131053, RecipientError),
    (131000, TransientError),
    (1, TransientError),
    (2, TransientError),
    (131016, TransientError),
    (131005, CampaignFatalError),
    (131008, RecipientError),
    (131009, RecipientError),
    (100, RecipientError),
    (131021, RecipientError),
    (131031, CampaignFatalError),
    (131042, CampaignFatalError),
    (131045, CampaignFatalError),
    (131057, TransientError),
    (132000, CampaignFatalError),  # same template and mapping for every recipient
    (132001, CampaignFatalError),
    (132005, RecipientError),
    (132007, RecipientError),
    (132012, CampaignFatalError),  # same template and mapping for every recipient
    (132015, CampaignFatalError),
    (132016, CampaignFatalError),
    (133010, CampaignFatalError),
    (368, CampaignFatalError),
]


@pytest.mark.parametrize(("code", "expected"), CONTRACT_TABLE)
def test_every_contract_code_is_classified(code: int, expected: type[CloudApiError]) -> None:
    for http_status in (400, None):  # synchronous answer, or a failed-status webhook
        error = classify(code, http_status, title="Meta's title", details="Meta's details")
        assert type(error) is expected
        assert error.code == code
        assert error.http_status == http_status
        assert error.title == "Meta's title"
        assert error.details == "Meta's details"
        # A sentence or two an owner can act on, not a bare code.
        assert len(error.message) > 40
        assert str(code) not in error.message


@pytest.mark.parametrize("code", range(200, 300))
def test_whole_permission_range_is_campaign_fatal(code: int) -> None:
    assert isinstance(classify(code, 403), CampaignFatalError)


def test_hierarchy_matches_what_the_sender_does() -> None:
    assert issubclass(EngagementLimitError, TransientError)
    assert issubclass(PairRateLimitError, ThrottledError)
    assert issubclass(RecipientOptedOutError, RecipientError)
    for kind in (TransientError, ThrottledError, RecipientError, CampaignFatalError):
        assert issubclass(kind, CloudApiError)
    assert ThrottledError.slows_sender and not PairRateLimitError.slows_sender


@pytest.mark.parametrize(
    ("http_status", "is_transient", "expected"),
    [
        (500, None, TransientError),
        (503, None, TransientError),
        (400, True, TransientError),
        (429, None, ThrottledError),
        (401, None, CampaignFatalError),
        (403, None, CampaignFatalError),
        (400, None, RecipientError),
        (None, None, RecipientError),
    ],
)
def test_unknown_codes_go_by_http_status(
    http_status: int | None, is_transient: bool | None, expected: type[CloudApiError]
) -> None:
    error = classify(999_999, http_status, is_transient=is_transient, raw={"code": 999_999})
    assert type(error) is expected
    assert error.code == 999_999
    assert error.raw == {"code": 999_999}


def test_unknown_phone_number_id_or_path_is_campaign_fatal() -> None:
    assert isinstance(classify(100, 400, subcode=33), CampaignFatalError)
    assert isinstance(classify(2500, 400), CampaignFatalError)
    assert type(classify(100, 400, subcode=2494010)) is RecipientError


def test_synchronous_error_body_is_read_whole() -> None:
    body = {
        "error": {
            "message": "(#131026) Message undeliverable",
            "type": "OAuthException",
            "code": 131026,
            "error_subcode": 2494010,
            "error_data": {"messaging_product": "whatsapp", "details": "Not on WhatsApp"},
            "fbtrace_id": "AXsgnV2Cm3ZMGF3dF_cfYIn",
        }
    }
    error = error_from_response(400, body)
    assert type(error) is RecipientError
    assert (error.code, error.subcode, error.http_status) == (131026, 2494010, 400)
    assert error.title == "(#131026) Message undeliverable"
    assert error.details == "Not on WhatsApp"
    assert error.fbtrace_id == "AXsgnV2Cm3ZMGF3dF_cfYIn"
    assert error.raw == body["error"]
    assert "131026/2494010" in str(error) and error.message in str(error)
    assert error.to_dict()["category"] == "recipient"


def test_openapi_error_examples() -> None:
    # Examples from Meta's OpenAPI description (business-messaging-api_v23.0.yaml).
    expired = {
        "error": {
            "message": "Invalid OAuth access token",
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 463,
            "fbtrace_id": "AXsg",
        }
    }
    assert isinstance(error_from_response(401, expired), CampaignFatalError)
    rate = {
        "error": {
            "message": "Application request limit reached",
            "type": "OAuthException",
            "code": 4,
            "error_subcode": 2446079,
            "is_transient": True,
        }
    }
    assert isinstance(error_from_response(429, rate), ThrottledError)
    internal = {
        "error": {
            "message": "An unexpected error occurred. Please retry your request",
            "type": "GraphMethodException",
            "code": 2,
            "is_transient": True,
        }
    }
    assert isinstance(error_from_response(500, internal), TransientError)


def test_error_without_graph_body_is_classified_by_status() -> None:
    assert isinstance(error_from_response(502, "<html>Bad gateway</html>"), TransientError)
    assert isinstance(error_from_response(404, None), CampaignFatalError)
    assert isinstance(error_from_response(400, {"unexpected": True}), RecipientError)


def test_webhook_error_item() -> None:
    item = {
        "code": 131050,
        "title": "Unable to deliver the message",
        "message": "Unable to deliver the message",
        "error_data": {"details": "The user stopped marketing messages"},
        "href": "/documentation/business-messaging/whatsapp/support/error-codes",
    }
    error = error_from_webhook(item)
    assert isinstance(error, RecipientOptedOutError)
    assert error.http_status is None
    assert error.details == "The user stopped marketing messages"
    assert error.raw == item
    assert isinstance(
        error_from_webhook({"code": "130429", "title": "Rate limit hit"}), ThrottledError
    )


def test_backoff_grows_with_jitter_and_stops() -> None:
    backoff = Backoff(base=2.0, cap=10.0, max_retries=4)
    rng = random.Random(7)
    delays = [backoff.delay(attempt, rng) for attempt in (1, 2, 3, 4)]
    for delay, step in zip(delays, (2.0, 4.0, 8.0, 10.0), strict=True):
        assert delay is not None and step / 2 <= delay <= step
    assert backoff.delay(5, rng) is None
    with pytest.raises(ValueError):
        backoff.delay(0)


def test_retry_timing_per_class() -> None:
    rng = random.Random(1)
    soon = classify(131000, 500).retry_delay(1, rng)
    assert soon is not None and soon <= 2.0
    later = classify(131049, None).retry_delay(1, rng)
    assert later is not None and later >= 3 * 3600  # hours, never minutes
    pair = classify(131056, 400).retry_delay(1, rng)
    assert pair is not None and pair >= 3.0
    for permanent in (classify(131026, 400), classify(190, 401)):
        assert not permanent.retryable
        assert permanent.retry_delay(1) is None


def test_retry_after_header_raises_the_first_wait() -> None:
    error = classify(130429, 429, retry_after=30.0)
    assert error.retry_delay(1, random.Random(0)) == 30.0
    second = error.retry_delay(2, random.Random(0))
    assert second is not None and second <= 2.0
