"""Opt-out and opt-in keywords: whole message, case, spaces and punctuation ignored."""

from __future__ import annotations

import pytest

from core.keywords import Consent, match, normalize
from core.settings import ConfigurationError, Settings, load_settings

OUT = Settings(env="test").opt_out_keywords
IN = Settings(env="test").opt_in_keywords


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " Stop ",
        "STOP!",
        "s.t.o.p",
        "BERHENTI",
        "Berhenti.",
        "UNSUBSCRIBE",
        "Stop promosi",
        "STOP PROMOSI",
        "stop  promosi",
        "Stop promotions",
        "berhenti berlangganan",
    ],
)
def test_opt_out_words(text: str) -> None:
    assert match(text, OUT, IN) is Consent.OPT_OUT


@pytest.mark.parametrize("text", ["START", "mulai", "Mulai!", " subscribe ", "opt in"])
def test_opt_in_words(text: str) -> None:
    assert match(text, OUT, IN) is Consent.OPT_IN


@pytest.mark.parametrize(
    "text", ["", "   ", "!!!", "stop sending the catalog", "Jangan berhenti", "stopp", "🙏", None]
)
def test_anything_else_is_no_keyword(text: str | None) -> None:
    assert match(text, OUT, IN) is None


def test_normalize_keeps_letters_and_digits_of_any_script() -> None:
    assert normalize(" Stop  Promosi! ") == "stoppromosi"
    assert normalize("ÄNDERN 2") == "ändern2"


def test_keywords_are_configurable_as_a_list_or_comma_separated() -> None:
    settings = load_settings(
        {"SIARAN_OPT_OUT_KEYWORDS": "stop, keluar ,  ", "SIARAN_OPT_IN_KEYWORDS": '["masuk"]'}
    )
    assert settings.opt_out_keywords == ["stop", "keluar"]
    assert match("KELUAR", settings.opt_out_keywords, settings.opt_in_keywords) is Consent.OPT_OUT
    assert match("Masuk", settings.opt_out_keywords, settings.opt_in_keywords) is Consent.OPT_IN


def test_a_keyword_cannot_mean_both() -> None:
    with pytest.raises(ConfigurationError, match="cannot both opt out and opt in: stop"):
        load_settings({"SIARAN_OPT_IN_KEYWORDS": "START, Stop"})
    with pytest.raises(ConfigurationError, match="at least one keyword"):
        load_settings({"SIARAN_OPT_OUT_KEYWORDS": " , "})
