"""Meta's error codes: what each one means to an owner and what the sender must do.

The rows follow the contract's table (../shared/whatsapp-cloud-api.md, "Errors"); the
choices where that table leaves room are explained in ``sender.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sender.backoff import API_RATE_LIMIT, Backoff

TRANSIENT = "transient"
ENGAGEMENT_LIMITED = "engagement_limited"
THROTTLED = "throttled"
PAIR_RATE_LIMITED = "pair_rate_limited"
RECIPIENT = "recipient"
OPTED_OUT = "opted_out"
CAMPAIGN_FATAL = "campaign_fatal"
KINDS = (
    TRANSIENT,
    ENGAGEMENT_LIMITED,
    THROTTLED,
    PAIR_RATE_LIMITED,
    RECIPIENT,
    OPTED_OUT,
    CAMPAIGN_FATAL,
)


@dataclass(frozen=True)
class CodeRule:
    kind: str  # one of KINDS; errors.py maps it to an exception class
    message: str
    backoff: Backoff | None = None


_RECONNECT = (
    "Reconnect the WhatsApp account in Siaran's WhatsApp account settings with a valid "
    "system-user access token, then resume the campaign."
)
_PERMISSION = (
    "The access token lacks a permission WhatsApp requires (whatsapp_business_messaging or "
    "whatsapp_business_management). Grant it to the system user in Meta Business Settings, "
    "reconnect the account, then resume the campaign."
)
_AUTO_RETRY = "Siaran retries automatically; nothing to do unless it keeps happening."
_REQUEST_WRONG = (
    "The message Siaran built was rejected as invalid. Check the campaign's content and "
    "variables; if they look right, report this to the Siaran maintainers."
)

RULES: dict[int, CodeRule] = {
    0: CodeRule(CAMPAIGN_FATAL, "WhatsApp could not authenticate Siaran. " + _RECONNECT),
    190: CodeRule(
        CAMPAIGN_FATAL, "The WhatsApp access token has expired or was revoked. " + _RECONNECT
    ),
    3: CodeRule(CAMPAIGN_FATAL, "The WhatsApp app lacks a needed capability. " + _PERMISSION),
    10: CodeRule(CAMPAIGN_FATAL, "WhatsApp denied permission. " + _PERMISSION),
    4: CodeRule(
        THROTTLED,
        "Meta's limit on API calls for this app was reached. " + _AUTO_RETRY,
        API_RATE_LIMIT,
    ),
    80007: CodeRule(
        THROTTLED,
        "The WhatsApp Business Account's API rate limit was reached. " + _AUTO_RETRY,
        API_RATE_LIMIT,
    ),
    130429: CodeRule(
        THROTTLED,
        "The phone number's sending speed limit (messages per second) was reached. "
        "Siaran slows down and retries; lower the campaign's rate if this keeps happening.",
    ),
    131048: CodeRule(
        CAMPAIGN_FATAL,
        "WhatsApp is limiting this number because too many recent messages were blocked or "
        "reported as spam. The campaign is paused to protect the number's quality rating: "
        "review the audience and the template, wait a while, then resume.",
    ),
    131056: CodeRule(
        PAIR_RATE_LIMITED,
        "Too many messages were sent to this customer in a short time. "
        "Siaran retries this message later.",
    ),
    131049: CodeRule(
        ENGAGEMENT_LIMITED,
        "WhatsApp held back this marketing message to keep the customer's engagement healthy "
        "(they received many marketing messages recently). Siaran retries hours later; it may "
        "still not be delivered.",
    ),
    131050: CodeRule(
        OPTED_OUT,
        "The customer chose to stop receiving marketing messages from this business. They are "
        "marked as opted out and will not receive further campaigns.",
    ),
    131026: CodeRule(
        RECIPIENT,
        "The message could not be delivered to this customer: the number may not be on "
        "WhatsApp, use an old app version, or not have accepted WhatsApp's terms. Check the "
        "number; Siaran does not retry.",
    ),
    131047: CodeRule(
        RECIPIENT,
        "The customer has not written in the last 24 hours, so WhatsApp only accepts an "
        "approved template for them. Send a template message instead.",
    ),
    131051: CodeRule(RECIPIENT, "WhatsApp does not support this message type."),
    131052: CodeRule(
        RECIPIENT,
        "WhatsApp could not download the media of this message. Check that the link is public "
        "and the file type and size are allowed.",
    ),
    131053: CodeRule(
        RECIPIENT,
        "WhatsApp could not process the media of this message. Check the file type and size.",
    ),
    131000: CodeRule(TRANSIENT, "Something went wrong at WhatsApp. " + _AUTO_RETRY),
    1: CodeRule(TRANSIENT, "WhatsApp had a temporary, unexplained problem. " + _AUTO_RETRY),
    2: CodeRule(TRANSIENT, "WhatsApp's service was temporarily unavailable. " + _AUTO_RETRY),
    131016: CodeRule(TRANSIENT, "WhatsApp's service is overloaded or unavailable. " + _AUTO_RETRY),
    131057: CodeRule(
        TRANSIENT,
        "The WhatsApp Business Account is in maintenance mode. Siaran retries later.",
    ),
    131005: CodeRule(
        CAMPAIGN_FATAL,
        "WhatsApp denied access for this account or phone number. " + _PERMISSION,
    ),
    131008: CodeRule(RECIPIENT, "A required field is missing. " + _REQUEST_WRONG),
    131009: CodeRule(RECIPIENT, "A value in the message is not valid. " + _REQUEST_WRONG),
    100: CodeRule(RECIPIENT, "WhatsApp rejected a parameter of the message. " + _REQUEST_WRONG),
    131021: CodeRule(
        RECIPIENT,
        "The recipient is the business's own phone number; a number cannot message itself.",
    ),
    131031: CodeRule(
        CAMPAIGN_FATAL,
        "WhatsApp locked this business account. Check Account Quality in WhatsApp Manager, "
        "resolve the issue with Meta, then resume the campaign.",
    ),
    131042: CodeRule(
        CAMPAIGN_FATAL,
        "There is a payment problem on the WhatsApp Business Account. Fix the payment method "
        "in Meta Business Settings, then resume the campaign.",
    ),
    131045: CodeRule(
        CAMPAIGN_FATAL,
        "The business phone number is not registered correctly (certificate problem). "
        "Register it again in WhatsApp Manager, then resume the campaign.",
    ),
    132000: CodeRule(
        CAMPAIGN_FATAL,
        "The number of variables sent does not match the template. Fix the campaign's "
        "variable mapping (or sync templates if the template changed), then resume.",
    ),
    132001: CodeRule(
        CAMPAIGN_FATAL,
        "The template does not exist in this language, or is not approved yet. Sync templates "
        "and choose an approved template and language, then resume.",
    ),
    132005: CodeRule(
        RECIPIENT,
        "With this customer's values the template text is too long. Shorten the variable "
        "values (or the template).",
    ),
    132007: CodeRule(
        RECIPIENT,
        "With these values the template breaks WhatsApp's formatting rules. Check the "
        "customer's values for unusual characters.",
    ),
    132012: CodeRule(
        CAMPAIGN_FATAL,
        "The variables sent do not have the format the template expects (for example an image "
        "where it expects a document, or named variables for a numbered template). Sync "
        "templates and fix the campaign's variable mapping, then resume.",
    ),
    132015: CodeRule(
        CAMPAIGN_FATAL,
        "WhatsApp paused the template because of low quality. Wait until it is active again "
        "(first 3 hours, then 6) or edit it in WhatsApp Manager, then resume.",
    ),
    132016: CodeRule(
        CAMPAIGN_FATAL,
        "WhatsApp disabled the template because of repeated low quality. Create a new template "
        "in WhatsApp Manager, sync templates and update the campaign.",
    ),
    133010: CodeRule(
        CAMPAIGN_FATAL,
        "The business phone number is not registered on the Cloud API. Register it in "
        "WhatsApp Manager, then resume the campaign.",
    ),
    # Not in the contract's table: Graph's "unknown path components" means the API address
    # or version is wrong, so every call fails alike.
    2500: CodeRule(
        CAMPAIGN_FATAL,
        "WhatsApp did not recognise the API address. Check the API base URL and version in "
        "Siaran's WhatsApp account settings.",
    ),
    368: CodeRule(
        CAMPAIGN_FATAL,
        "WhatsApp temporarily blocked this account for policy violations. Check Account "
        "Quality in WhatsApp Manager; resume once the block has ended.",
    ),
}

UNKNOWN_OBJECT = CodeRule(
    CAMPAIGN_FATAL,
    "The WhatsApp phone number id does not exist or this access token cannot use it. Check the "
    "phone number id in Siaran's WhatsApp account settings.",
)


def rule_for(
    code: int | None, subcode: int | None, http_status: int | None, is_transient: bool | None
) -> CodeRule:
    if code is not None:
        if code == 100 and subcode == 33:
            return UNKNOWN_OBJECT
        if code in RULES:
            return RULES[code]
        if 200 <= code <= 299:
            return CodeRule(CAMPAIGN_FATAL, "WhatsApp denied permission. " + _PERMISSION)
    if is_transient or (http_status is not None and http_status >= 500):
        return CodeRule(TRANSIENT, "WhatsApp had a temporary problem. " + _AUTO_RETRY)
    if http_status == 429:
        return CodeRule(THROTTLED, "WhatsApp asked Siaran to slow down. " + _AUTO_RETRY)
    if http_status in (401, 403):
        return CodeRule(CAMPAIGN_FATAL, "WhatsApp refused Siaran's credentials. " + _RECONNECT)
    if code is None and http_status == 404:
        return CodeRule(
            CAMPAIGN_FATAL,
            "The WhatsApp API address was not found. Check the API base URL and version in "
            "Siaran's WhatsApp account settings.",
        )
    return CodeRule(
        RECIPIENT,
        "WhatsApp rejected this message for a reason Siaran does not know; it is not retried. "
        "The error details are kept with the message.",
    )
