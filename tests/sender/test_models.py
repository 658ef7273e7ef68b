"""Records read from Meta's answers, including the older shapes still in the wild."""

from __future__ import annotations

from sender.models import MessageTemplate, PhoneNumberInfo, SendResult


def test_send_result_with_and_without_message_status() -> None:
    answer = {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
        "messages": [
            {"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3", "message_status": "accepted"}
        ],
    }
    result = SendResult.from_response(answer)
    assert result == SendResult(
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3", "16505551234", "+16505551234", "accepted"
    )
    del answer["messages"][0]["message_status"]  # Meta's older examples omit it
    assert SendResult.from_response(answer).message_status is None


def test_phone_number_info_prefers_the_portfolio_messaging_limit() -> None:
    info = PhoneNumberInfo.from_response(
        {
            "id": "106540352242922",
            "display_phone_number": "+62 811-0000-0000",
            "verified_name": "Toko Maju",
            "quality_rating": "GREEN",
            "throughput": {"level": "STANDARD"},
            "whatsapp_business_manager_messaging_limit": "TIER_2K",
            "messaging_limit_tier": "TIER_1K",
        }
    )
    assert info.messaging_limit_tier == "TIER_2K"
    assert info.messaging_limit == 2_000
    assert info.messages_per_second == 80


def test_phone_number_info_falls_back_to_the_deprecated_tier() -> None:
    info = PhoneNumberInfo.from_response(
        {"id": "1", "messaging_limit_tier": "TIER_UNLIMITED", "throughput": {"level": "HIGH"}}
    )
    assert info.messaging_limit_tier == "TIER_UNLIMITED"
    assert info.messaging_limit is None
    assert info.messages_per_second == 1_000
    assert info.display_phone_number is None


def test_template_defaults_to_positional_parameters() -> None:
    item = {"id": "9", "name": "promo", "language": "id", "status": "APPROVED"}
    template = MessageTemplate.from_response(item)
    assert template.parameter_format == "POSITIONAL"
    assert template.components == [] and template.category is None
    assert template.raw == item
