"""Phone numbers: E.164 normalisation and masking."""

from __future__ import annotations

import phonenumbers

from core.errors import InvalidInput


def normalize_phone(raw: str, region: str = "ID") -> str:
    """Return ``raw`` as E.164 (``+6281234567890``) or raise InvalidInput saying why."""
    text = (raw or "").strip()
    if not text:
        raise InvalidInput("phone number is empty")
    # Indonesian customers often write 62812... without the plus.
    if region == "ID" and text.startswith("62") and not text.startswith("620"):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"{raw!r} is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def wa_digits(e164: str) -> str:
    """The form the Cloud API wants in ``to``: the digits of E.164 without the plus."""
    return e164.lstrip("+")


def mask_phone(e164: str | None) -> str:
    """``+6281234567890`` -> ``+62812•••••890``: enough to recognise, not to dial."""
    if not e164:
        return ""
    if len(e164) <= 7:
        return "•" * len(e164)
    return e164[:6] + "•" * (len(e164) - 9) + e164[-3:]
