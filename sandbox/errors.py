"""Graph API errors as Meta shapes them, synchronous (HTTP responses) and asynchronous (webhooks).

Synchronous: ``{"error": {"message": "(#131009) Parameter value is not valid", "type":
"OAuthException", "code": 131009, "error_data": {"messaging_product": "whatsapp", "details":
"..."}, "fbtrace_id": "..."}}``. Asynchronous failures ride on a ``failed`` status webhook as
``errors: [{"code", "title", "message", "error_data": {"details"}, "href"}]``.
"""

from __future__ import annotations

import secrets
from typing import Any

ERROR_CODES_URL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# code -> (title Meta puts in the message, HTTP status of the synchronous response)
CATALOGUE: dict[int, tuple[str, int]] = {
    1: ("An unknown error occurred", 500),
    100: ("Invalid parameter", 400),
    190: ("Invalid OAuth access token", 401),
    2500: ("Unknown path components", 400),
    130429: ("Rate limit hit", 429),
    131000: ("Something went wrong", 500),
    131008: ("Required parameter is missing", 400),
    131009: ("Parameter value is not valid", 400),
    131021: ("Recipient cannot be sender", 400),
    131026: ("Message undeliverable", 400),
    131047: ("Re-engagement message", 400),
    131049: (
        "This message was not delivered to maintain healthy ecosystem engagement.",
        400,
    ),
    131050: (
        "Unable to deliver the message. This recipient has chosen to stop receiving "
        "marketing messages on WhatsApp from your business.",
        400,
    ),
    131051: ("Unsupported message type", 400),
    131053: ("Media upload error", 400),
    131056: ("(Business Account, Consumer Account) pair rate limit hit", 400),
    132000: ("Number of parameters does not match the expected number of params", 400),
    132001: ("Template name does not exist in the translation", 404),
    132005: ("Translated text too long", 400),
    132012: ("Parameter format does not match format in the created template", 400),
    132015: ("Template is Paused", 400),
    132016: ("Template is Disabled", 400),
}

ASYNC_DETAILS: dict[int, str] = {
    131000: "Message failed to send due to an unknown error.",
    131026: "Message Undeliverable.",
    131047: (
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number."
    ),
    131049: "In order to maintain a healthy ecosystem engagement, the message failed to be "
    "delivered.",
    131050: "Unable to deliver the message. This recipient has chosen to stop receiving "
    "marketing messages on WhatsApp from your business.",
    131053: "Unable to download the media sent by the business.",
}


def fbtrace_id() -> str:
    """An opaque trace id in the style Meta returns with every error."""
    return "A" + secrets.token_urlsafe(16)[:22]


class GraphError(Exception):
    """A synchronous Graph API error: raised anywhere in a handler, rendered as Meta does."""

    def __init__(
        self,
        code: int,
        details: str | None = None,
        *,
        message: str | None = None,
        subcode: int | None = None,
        error_type: str = "OAuthException",
        http_status: int | None = None,
        whatsapp: bool = True,
    ) -> None:
        title, status = CATALOGUE.get(code, ("Unknown error", 400))
        self.code = code
        self.details = details
        self.message = message or f"(#{code}) {title}"
        self.subcode = subcode
        self.error_type = error_type
        self.http_status = http_status or status
        self.whatsapp = whatsapp
        super().__init__(f"{self.message}: {details}" if details else self.message)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details is not None and self.whatsapp:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}


def invalid_parameter(details: str) -> GraphError:
    """Code 100: the request's shape is wrong (a bad value for a known parameter)."""
    return GraphError(100, details)


def parameter_required(name: str) -> GraphError:
    """Code 100 with Graph's own wording for a missing parameter."""
    return GraphError(
        100,
        f"The parameter {name} is required.",
        message=f"(#100) The parameter {name} is required.",
    )


def invalid_value(details: str) -> GraphError:
    """Code 131009: a parameter is present but its value is not acceptable."""
    return GraphError(131009, details)


def bad_token(missing: bool) -> GraphError:
    message = (
        "An active access token must be used to query information about the current user."
        if missing
        else "Invalid OAuth access token - Cannot parse access token"
    )
    return GraphError(190, message=message, whatsapp=False)


def unsupported_request(method: str, node_id: str) -> GraphError:
    """The error Graph gives for an id that does not exist (or is not ours)."""
    return GraphError(
        100,
        message=(
            f"Unsupported {method.lower()} request. Object with ID '{node_id}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this operation. "
            "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
        ),
        subcode=33,
        error_type="GraphMethodException",
        whatsapp=False,
    )


def unknown_path(path: str) -> GraphError:
    return GraphError(2500, message=f"Unknown path components: {path}", whatsapp=False)


def nonexisting_field(field: str, node_type: str) -> GraphError:
    return GraphError(
        100,
        message=f"(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})",
        whatsapp=False,
    )


def webhook_error(code: int, details: str | None = None) -> dict[str, Any]:
    """The ``errors[]`` item of a ``failed`` status webhook."""
    title = CATALOGUE.get(code, ("Unknown error", 400))[0]
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or ASYNC_DETAILS.get(code, title)},
        "href": ERROR_CODES_URL,
    }
