"""Sending to WhatsApp: the Cloud API client, its payload builders and its error model.

The throttled campaign sender lives beside them and is imported from its modules (it needs
the database and ``core.campaigns``, which import this package): ``sender.run``
(``run_campaign``, ``run_worker``), ``sender.loop``, ``sender.rate``, ``sender.outbox``.
See docs/sender.md.
"""

from sender.cloud_api import CloudApiClient, scalable_transport
from sender.errors import (
    CampaignFatalError,
    CloudApiError,
    EngagementLimitError,
    NetworkError,
    PairRateLimitError,
    RecipientError,
    RecipientOptedOutError,
    ThrottledError,
    TransientError,
    classify,
    error_from_response,
    error_from_webhook,
)
from sender.models import MessageTemplate, PhoneNumberInfo, SendResult

__all__ = [
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
