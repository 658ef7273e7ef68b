"""Passwords, API tokens and secrets at rest."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

from core.errors import InvalidInput
from core.settings import ConfigurationError, Settings

_hasher = PasswordHasher()
TOKEN_PREFIX = "sk_siaran_"
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"Password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_api_token() -> tuple[str, str]:
    """Return a fresh token and the hash to store; the token itself is shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SecretBox:
    """Encrypts secrets (access tokens, app secrets) before they reach the database."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise ConfigurationError(
                "A stored secret cannot be decrypted: SIARAN_SECRET_KEY differs from the key "
                "it was encrypted with."
            ) from None

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(load_or_create_key(settings))


def load_or_create_key(settings: Settings) -> bytes:
    """The secrets key from the environment, its file, or (demo only) a new file."""
    if settings.secret_key:
        key = settings.secret_key.encode()
        _check_key(key, "SIARAN_SECRET_KEY")
        return key
    path: Path = settings.resolved_secret_key_file
    if path.exists():
        key = path.read_bytes().strip()
        _check_key(key, f"SIARAN_SECRET_KEY_FILE ({path})")
        return key
    if settings.secret_key_file is not None or settings.env == "production":
        raise ConfigurationError(f"SIARAN_SECRET_KEY_FILE: {path} does not exist")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    path.write_bytes(key)
    path.chmod(0o600)
    return key


def _check_key(key: bytes, variable: str) -> None:
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{variable}: not a valid key (expected 32 url-safe base64-encoded bytes; "
            "generate one with `siaran secret-key`)"
        ) from None
