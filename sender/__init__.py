"""Sending to WhatsApp: the Cloud API client, its payload builders and its error model."""

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
