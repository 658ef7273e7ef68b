"""Errors the core raises; every entry point maps them to its own way of saying no.

SiaranError
├── AuthenticationFailed   wrong credentials or token          (HTTP 401)
│   └── TokenEnded         unknown or revoked (signed-out) token
├── PermissionDenied       the role may not do this            (HTTP 403)
├── NotFound               no such object                      (HTTP 404)
├── Conflict               not allowed in the object's state   (HTTP 409)
└── InvalidInput           the request itself is wrong         (HTTP 422)
"""

from __future__ import annotations


class SiaranError(Exception):
    """Base of every error the core raises on purpose."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthenticationFailed(SiaranError):
    status_code = 401


class TokenEnded(AuthenticationFailed):
    """The token is unknown or was revoked: nothing to tell a user who signed out."""


class PermissionDenied(SiaranError):
    status_code = 403


class NotFound(SiaranError):
    status_code = 404


class Conflict(SiaranError):
    status_code = 409


class InvalidInput(SiaranError):
    status_code = 422

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []
