"""The names ``sender`` exports: other packages import these, so changes are deliberate."""

from __future__ import annotations

import sender


def test_public_names_are_pinned() -> None:
    assert sorted(sender.__all__) == [
        "CampaignFatalError",
        "CloudApiClient",
        "CloudApiError",
        "EngagementLimitError",
        "MessageTemplate",
        "NetworkError",
        "PairRateLimitError",
        "PhoneNumberInfo",
        "RecipientError",
        "RecipientOptedOutError",
        "SendResult",
        "ThrottledError",
        "TransientError",
        "classify",
        "error_from_response",
        "error_from_webhook",
        "scalable_transport",
    ]
    for name in sender.__all__:
        assert getattr(sender, name) is not None
