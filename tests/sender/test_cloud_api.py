"""The client against the sandbox over real HTTP: every message type, every error class,
template pagination, phone number info and media upload."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.errors import InvalidInput
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from sender.cloud_api import CloudApiClient
from sender.errors import (
    CampaignFatalError,
    PairRateLimitError,
    RecipientError,
    ThrottledError,
)
from sender.payloads import QuickReplyButton, UrlButton, media_parameter, template_message

pytestmark = pytest.mark.anyio
TOKEN = "test-access-token"
TO = "6281234567890"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class Sandbox:
    """A running sandbox plus a synchronous client for its control API."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.url = server.url
        self.config: SandboxConfig = server.state.config

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}/_sandbox{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def messages(self) -> list[dict[str, Any]]:
        return self.control("GET", "/messages")["data"]

    def client(self, **overrides: Any) -> CloudApiClient:
        arguments = {
            "base_url": self.url,
            "access_token": TOKEN,
            "phone_number_id": self.config.phone_number_id,
            "waba_id": self.config.waba_id,
            **overrides,
        }
        return CloudApiClient(**arguments)


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Start a sandbox without latency; keyword arguments override its config."""
    servers: list[SandboxServer] = []

    def start(**overrides: Any) -> Sandbox:
        settings = {"access_token": TOKEN, "latency_ms": 0, "latency_jitter_ms": 0, **overrides}
        server = SandboxServer(SandboxConfig(**settings))
        server.start()
        servers.append(server)
        return Sandbox(server)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return start_sandbox()


async def test_send_text(sandbox: Sandbox) -> None:
    async with sandbox.client() as client:
        result = await client.send_text(
            "+" + TO, "Halo Budi, pesanan Anda siap diambil.", biz_opaque_callback_data="msg-1"
        )
    assert result.wamid.startswith("wamid.")
    assert (result.wa_id, result.message_status) == (TO, "accepted")
    [recorded] = sandbox.messages()
    assert recorded["id"] == result.wamid
    assert recorded["type"] == "text"
    assert recorded["text"] == "Halo Budi, pesanan Anda siap diambil."
    assert recorded["biz_opaque_callback_data"] == "msg-1"


async def test_send_media_by_link_and_by_uploaded_id(sandbox: Sandbox, tmp_path: Path) -> None:
    pdf = tmp_path / "katalog.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + b"0" * 2048)
    async with sandbox.client() as client:
        image_id = await client.upload_media(PNG, "image/png")
        document_id = await client.upload_media(pdf, "application/pdf")
        sends = [
            client.send_media(
                TO,
                "image",
                link="https://tokomaju.example/p.jpg",
                caption="Promo",
                biz_opaque_callback_data="m-1",
            ),
            client.send_media(TO, "image", media_id=image_id, biz_opaque_callback_data="m-2"),
            client.send_media(
                TO,
                "document",
                media_id=document_id,
                filename="katalog.pdf",
                caption="Katalog Januari",
                biz_opaque_callback_data="m-3",
            ),
            client.send_media(
                TO,
                "video",
                link="https://tokomaju.example/v.mp4",
                caption="Cara pakai",
                biz_opaque_callback_data="m-4",
            ),
        ]
        results = [await send for send in sends]
    assert len({result.wamid for result in results}) == 4
    recorded = sandbox.messages()
    assert [m["type"] for m in recorded] == ["image", "image", "document", "video"]
    assert [m["biz_opaque_callback_data"] for m in recorded] == ["m-1", "m-2", "m-3", "m-4"]
    uploads = {item["id"]: item for item in sandbox.control("GET", "/media")["data"]}
    assert uploads[image_id]["mime_type"] == "image/png"
    assert uploads[image_id]["file_size"] == len(PNG)
    assert uploads[document_id]["filename"] == "katalog.pdf"


async def test_send_template_with_positional_parameters(sandbox: Sandbox) -> None:
    async with sandbox.client() as client:
        result = await client.send_template(
            TO,
            "promo_akhir_tahun",
            "id",
            header=media_parameter("image", link="https://tokomaju.example/promo.jpg"),
            body=["Budi", "50%", "31 Desember"],
            buttons=[QuickReplyButton(0, "stop-promo"), UrlButton(1, "akhir-tahun")],
            biz_opaque_callback_data="msg-7",
        )
    [recorded] = sandbox.messages()
    assert recorded["id"] == result.wamid
    assert recorded["template"] == {"name": "promo_akhir_tahun", "language": "id"}
    assert recorded["text"].startswith("Halo Budi, promo akhir tahun Toko Maju sudah dimulai!")
    assert "Diskon hingga 50%" in recorded["text"]


async def test_send_template_with_named_parameters(sandbox: Sandbox) -> None:
    async with sandbox.client() as client:
        await client.send_template(
            TO,
            "flash_sale",
            "id",
            header={"sale_name": "Gajian"},
            body={
                "first_name": "Siti",
                "sale_name": "Gajian",
                "end_time": "21.00",
                "voucher_code": "GAJIAN25",
            },
            biz_opaque_callback_data="msg-8",
        )
    [recorded] = sandbox.messages()
    assert "Hai Siti, flash sale Gajian cuma sampai jam 21.00!" in recorded["text"]


async def test_generic_send_of_a_pre_rendered_payload(sandbox: Sandbox) -> None:
    payload = template_message(TO, "hello_world", "en_US")
    async with sandbox.client() as client:
        result = await client.send(payload, biz_opaque_callback_data="outbox-42")
        with pytest.raises(InvalidInput, match="biz_opaque_callback_data"):
            await client.send(payload)  # no message id: refused before any request
        with pytest.raises(InvalidInput, match="another"):
            await client.send(
                {**payload, "biz_opaque_callback_data": "a"}, biz_opaque_callback_data="b"
            )
    assert [m["biz_opaque_callback_data"] for m in sandbox.messages()] == ["outbox-42"]
    assert "biz_opaque_callback_data" not in payload  # the caller's dict is left alone
    assert result.wamid == sandbox.messages()[0]["id"]


async def test_bad_token_is_campaign_fatal(sandbox: Sandbox) -> None:
    async with sandbox.client(access_token="expired-token") as client:
        with pytest.raises(CampaignFatalError) as caught:
            await client.send_text(TO, "Halo", biz_opaque_callback_data="m")
        with pytest.raises(CampaignFatalError):
            await client.get_phone_number_info()
    error = caught.value
    assert (error.code, error.http_status) == (190, 401)
    assert "Reconnect the WhatsApp account" in error.message
    assert error.fbtrace_id
    assert sandbox.messages() == []


async def test_template_errors(sandbox: Sandbox) -> None:
    async with sandbox.client() as client:
        with pytest.raises(CampaignFatalError) as unknown:
            await client.send_template(TO, "tidak_ada", "id", biz_opaque_callback_data="m")
        assert unknown.value.code == 132001
        assert "Sync templates" in unknown.value.message

        with pytest.raises(CampaignFatalError) as mismatch:
            await client.send_template(
                TO,
                "konfirmasi_pesanan",
                "id",
                header="INV-1",
                body=["Budi", "INV-1"],  # the template has three variables
                buttons=[UrlButton(0, "INV-1")],
                biz_opaque_callback_data="m",
            )
        assert mismatch.value.code == 132000
        assert mismatch.value.details and "does not match" in mismatch.value.details

        with pytest.raises(CampaignFatalError) as paused:
            await client.send_template(
                TO, "promo_gajian", "id", body=["Budi", "30%"], biz_opaque_callback_data="m"
            )
        assert paused.value.code == 132015

        promo = {
            "header": media_parameter("image", link="https://tokomaju.example/promo.jpg"),
            "body": ["Budi", "50%", "31 Desember"],
        }
        with pytest.raises(CampaignFatalError) as wrong_format:
            await client.send_template(
                TO,
                "promo_akhir_tahun",
                "id",
                header=media_parameter("video", link="https://tokomaju.example/promo.mp4"),
                body=promo["body"],
                biz_opaque_callback_data="m",
            )
        assert wrong_format.value.code == 132012

        # One customer's value with a line break is per-recipient; only a raw payload gets it
        # past the builders, which refuse it.
        raw = template_message(TO, "promo_akhir_tahun", "id", **promo)  # type: ignore[arg-type]
        raw["template"]["components"][1]["parameters"][0]["text"] = "Budi\nSantoso"
        with pytest.raises(RecipientError) as line_break:
            await client.send(raw, biz_opaque_callback_data="m")
        assert line_break.value.code == 100
        assert "new-line" in (line_break.value.details or "")
    assert sandbox.messages() == []


async def test_malformed_numbers_are_refused(sandbox: Sandbox) -> None:
    async with sandbox.client() as client:
        with pytest.raises(InvalidInput, match="not an international phone number"):
            await client.send_text("0812-3456", "Halo", biz_opaque_callback_data="m")
        raw = {
            "messaging_product": "whatsapp",
            "to": "12ab",
            "type": "text",
            "text": {"body": "Halo"},
        }
        with pytest.raises(RecipientError) as caught:
            await client.send(raw, biz_opaque_callback_data="m")
        assert caught.value.code == 131009
        assert caught.value.http_status == 400
        with pytest.raises(RecipientError) as own_number:
            await client.send_text(
                sandbox.config.display_digits, "Halo", biz_opaque_callback_data="m"
            )
        assert own_number.value.code == 131021


async def test_wrong_phone_number_id_or_version_is_campaign_fatal(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox(api_versions=["v25.0"])
    async with sandbox.client(phone_number_id="999999") as client:
        with pytest.raises(CampaignFatalError) as wrong_id:
            await client.send_text(TO, "Halo", biz_opaque_callback_data="m")
    assert (wrong_id.value.code, wrong_id.value.subcode) == (100, 33)
    async with sandbox.client(api_version="v99.0") as client:
        with pytest.raises(CampaignFatalError) as wrong_version:
            await client.get_phone_number_info()
    assert wrong_version.value.code == 2500


async def test_throughput_limit_is_throttled(start_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = start_sandbox(throughput_per_second=3)
    async with sandbox.client() as client:
        sends = [
            client.send_text(f"62812345670{n:02d}", "Halo", biz_opaque_callback_data=f"m{n}")
            for n in range(8)
        ]
        outcomes = await asyncio.gather(*sends, return_exceptions=True)
    throttled = [o for o in outcomes if isinstance(o, ThrottledError)]
    # Eight sends at once against 3 per second: some are refused (exactly 5 unless the
    # machine is so slow that the sends spread over more than a second).
    assert 1 <= len(throttled) <= 5
    assert all(not isinstance(o, Exception) for o in outcomes if o not in throttled)
    assert sandbox.control("GET", "/throughput")["throughput_limited"] == len(throttled)
    assert all(type(o) is ThrottledError and o.code == 130429 for o in throttled)
    assert throttled[0].slows_sender and throttled[0].retry_delay(1) is not None


async def test_pair_rate_limit_is_per_recipient(start_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = start_sandbox(pair_rate_burst=2, pair_rate_interval_s=60)
    async with sandbox.client() as client:
        for n in range(2):
            await client.send_text(TO, "Halo", biz_opaque_callback_data=f"m{n}")
        with pytest.raises(PairRateLimitError) as caught:
            await client.send_text(TO, "Halo lagi", biz_opaque_callback_data="m2")
        # Another customer is unaffected.
        await client.send_text("6281234567891", "Halo", biz_opaque_callback_data="m3")
    error = caught.value
    assert error.code == 131056 and not error.slows_sender
    delay = error.retry_delay(1)
    assert delay is not None and delay >= 3


async def test_list_templates_follows_every_page(sandbox: Sandbox) -> None:
    sandbox.control("POST", "/templates/generate", json={"count": 1050, "prefix": "bench"})
    expected = sandbox.control("GET", "/templates")["count"]
    assert expected > 1050
    async with sandbox.client() as client:
        templates = [template async for template in client.list_templates()]
        small_pages = [template async for template in client.list_templates(limit=7)]
    assert len(templates) == expected
    assert len({template.id for template in templates}) == expected
    assert [t.id for t in small_pages[:50]] == [t.id for t in templates[:50]]
    by_key = {(t.name, t.language): t for t in templates}
    promo = by_key[("promo_akhir_tahun", "id")]
    assert (promo.status, promo.category, promo.parameter_format) == (
        "APPROVED",
        "MARKETING",
        "POSITIONAL",
    )
    assert [c["type"] for c in promo.components] == ["HEADER", "BODY", "FOOTER", "BUTTONS"]
    assert by_key[("flash_sale", "id")].parameter_format == "NAMED"
    statuses = {t.status for t in templates}
    assert {"APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED"} <= statuses


async def test_phone_number_info(start_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = start_sandbox(quality_rating="YELLOW", messaging_limit="TIER_10K")
    async with sandbox.client() as client:
        info = await client.get_phone_number_info()
    assert info.id == sandbox.config.phone_number_id
    assert info.display_phone_number == "+62 811-0000-0000"
    assert info.verified_name == "Toko Maju"
    assert info.quality_rating == "YELLOW"
    assert info.throughput_level == "STANDARD" and info.messages_per_second == 80
    assert info.messaging_limit_tier == "TIER_10K" and info.messaging_limit == 10_000


async def test_media_upload_is_checked_before_sending(sandbox: Sandbox, tmp_path: Path) -> None:
    async with sandbox.client() as client:
        with pytest.raises(InvalidInput, match="does not accept 'image/gif'"):
            await client.upload_media(b"GIF89a", "image/gif")
        with pytest.raises(InvalidInput, match="up to 5 MB"):
            await client.upload_media(b"\x00" * (5 * 1024 * 1024 + 1), "image/jpeg")
        with pytest.raises(InvalidInput, match="no file"):
            await client.upload_media(tmp_path / "missing.pdf", "application/pdf")
        video = tmp_path / "tutorial.mp4"
        video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4096)
        media_id = await client.upload_media(video, "video/mp4")
    [upload] = sandbox.control("GET", "/media")["data"]
    assert upload == {**upload, "id": media_id, "type": "video", "filename": "tutorial.mp4"}


async def test_hundreds_of_sends_in_flight(start_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = start_sandbox(latency_ms=100, throughput_per_second=10_000)
    async with sandbox.client() as client:
        results = await asyncio.gather(
            *(
                client.send_text(f"628123{n:07d}", "Halo", biz_opaque_callback_data=f"m{n}")
                for n in range(400)
            )
        )
    assert len({result.wamid for result in results}) == 400
    assert sandbox.control("GET", "/throughput")["accepted"] == 400
