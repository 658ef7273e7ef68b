"""Opt-out and opt-in keywords: what a customer's whole message must be to change their consent.

A message matches a keyword when, with case, spaces and punctuation ignored, it is exactly
that keyword: "stop", " S T O P ", "Stop!" and "STOP." all match STOP; "stop sending me
the catalog" does not (a whole-message rule, so an ordinary sentence never opts anyone
out). Quick-reply button taps ("Stop promosi") go through the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Consent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


def normalize(text: str) -> str:
    """``text`` as its letters and digits, case-folded: ``" Stop  promosi!"`` -> ``stoppromosi``."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def match(text: str | None, opt_out: Iterable[str], opt_in: Iterable[str]) -> Consent | None:
    """Which consent change ``text`` asks for, or None when it is not a keyword."""
    if not text:
        return None
    key = normalize(text)
    if not key:
        return None
    if key in {normalize(word) for word in opt_out}:
        return Consent.OPT_OUT
    if key in {normalize(word) for word in opt_in}:
        return Consent.OPT_IN
    return None
