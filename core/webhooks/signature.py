"""Who may post webhooks: Meta's ``X-Hub-Signature-256`` and the verify-token handshake.

Every POST carries ``sha256=<hex HMAC-SHA256 of the raw body keyed with the app secret>``.
The check runs on the raw bytes, before anything is parsed, and compares in constant time.
The app secrets and verify tokens are those of every connected account (active or not:
statuses for messages an earlier account sent still arrive), decrypted once and cached
for a short while so a busy receiver does not read the database per request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select

from core.bootstrap import Siaran
from core.settings import ConfigurationError
from sql.schema import WhatsAppAccount

log = logging.getLogger("siaran.webhooks")

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


class Rejection(StrEnum):
    """Why a webhook POST was turned away (the counters of ``/api/webhooks/stats``)."""

    MISSING_SIGNATURE = "missing_signature"
    BAD_SIGNATURE = "bad_signature"
    NO_ACCOUNT = "no_account"
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"


def sign(secret: str, body: bytes) -> str:
    """The header value Meta would send for ``body``."""
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(header: str | None, body: bytes, secrets: tuple[str, ...]) -> Rejection | None:
    """None when ``header`` is a valid signature of ``body`` by one of ``secrets``."""
    if not secrets:
        return Rejection.NO_ACCOUNT
    if header is None or not header.strip():
        return Rejection.MISSING_SIGNATURE
    given = header.strip()
    if not given.lower().startswith(_PREFIX):
        return Rejection.BAD_SIGNATURE
    given = _PREFIX + given[len(_PREFIX) :].lower()
    valid = False
    for secret in secrets:
        # Every secret is tried (no early exit) so the time taken says nothing.
        valid |= hmac.compare_digest(sign(secret, body).encode(), given.encode())
    return None if valid else Rejection.BAD_SIGNATURE


def verify_token_matches(given: str | None, tokens: tuple[str, ...]) -> bool:
    if not given:
        return False
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(token.encode(), given.encode())
    return matched


@dataclass(frozen=True)
class Credentials:
    app_secrets: tuple[str, ...]
    verify_tokens: tuple[str, ...]


class CredentialCache:
    """The accounts' app secrets and verify tokens, re-read at most every ``ttl`` seconds."""

    def __init__(self, siaran: Siaran, ttl: float = 10.0) -> None:
        self._siaran = siaran
        self._ttl = ttl
        self._lock = threading.Lock()
        self._value: Credentials | None = None
        self._read_at = 0.0

    def get(self, max_age: float | None = None) -> Credentials:
        """The cached credentials, re-read when older than ``max_age`` (default: the TTL)."""
        limit = self._ttl if max_age is None else max_age
        with self._lock:
            if self._value is None or time.monotonic() - self._read_at > limit:
                self._value = self._load()
                self._read_at = time.monotonic()
            return self._value

    def peek(self, max_age: float | None = None) -> Credentials | None:
        """The cached credentials if fresh enough, without touching the database."""
        limit = self._ttl if max_age is None else max_age
        with self._lock:
            if self._value is None or time.monotonic() - self._read_at > limit:
                return None
            return self._value

    def forget(self) -> None:
        """Read again on next use (after an account was connected or changed)."""
        with self._lock:
            self._value = None

    def _load(self) -> Credentials:
        box = self._siaran.secrets
        with self._siaran.uow.session() as session:
            rows = session.execute(
                select(
                    WhatsAppAccount.app_secret_encrypted, WhatsAppAccount.verify_token_encrypted
                ).order_by(WhatsAppAccount.is_active.desc(), WhatsAppAccount.connected_at.desc())
            ).all()
        secrets: list[str] = []
        tokens: list[str] = []
        for app_secret, verify_token in rows:
            try:
                secrets.append(box.decrypt(app_secret))
                tokens.append(box.decrypt(verify_token))
            except ConfigurationError as exc:
                log.error("A WhatsApp account's webhook secrets are unreadable: %s", exc)
        return Credentials(tuple(dict.fromkeys(secrets)), tuple(dict.fromkeys(tokens)))
