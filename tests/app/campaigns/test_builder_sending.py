"""The builder with the WhatsApp sandbox: template variables, test send, saved messages, sending."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.db import UnitOfWork
from core.permissions import Actor
from sandbox.server import SandboxServer
from sql.schema import AuditLog, Campaign, CampaignMessage, CampaignTemplate, WhatsAppTemplate
from tests.app.campaigns.conftest import Shop
from tests.app.campaigns.test_campaign_builder import audience, builder, next_step
from tests.app.conftest import texts


def template_keys(uow: UnitOfWork, name: str, language: str = "id") -> tuple[str, str]:
    """The prefix of the builder's widget keys for this template's variables, and its id."""
    with uow.session() as session:
        template = session.scalar(
            select(WhatsAppTemplate).where(
                WhatsAppTemplate.name == name, WhatsAppTemplate.language == language
            )
        )
        assert template is not None
        return f"cb_w_var_{template.id.hex[:12]}_", str(template.id)


def choose_template(at: AppTest, uow: UnitOfWork, name: str) -> str:
    prefix, template_id = template_keys(uow, name)
    at.radio(key="cb_w_message_type").set_value("template").run()
    at.selectbox(key="cb_w_template").select(template_id).run()
    return prefix


def map_order_confirmation(at: AppTest, prefix: str) -> None:
    """konfirmasi_pesanan: header {{1}}, body {{1}} {{2}} {{3}}, a URL button {{1}}."""
    at.selectbox(key=prefix + "body.1_field").select("name").run()
    at.text_input(key=prefix + "body.1_fallback").input("Kak").run()
    for key, value in (("header.1", "INV-9"), ("body.2", "INV-9"), ("body.3", "Rp 10.000"),
                       ("button.0.1", "INV-9")):  # fmt: skip
        at.radio(key=prefix + key + "_source").set_value("fixed").run()
        at.text_input(key=prefix + key + "_fixed").input(value).run()


def test_template_variables_map_to_fields_and_fixed_values_then_a_test_is_sent(
    signed_in: Callable[[str], AppTest],
    owner: Actor,
    sandbox_shop: Shop,
    sandbox: SandboxServer,
    uow: UnitOfWork,
) -> None:
    at = next_step(audience(builder(signed_in, owner), sandbox_shop, "Konfirmasi"))
    prefix = choose_template(at, uow, "konfirmasi_pesanan")
    # Nothing mapped yet: the owner is told what is still needed, and Next refuses.
    assert "variable body.2 has no value mapped" in texts(at)
    next_step(at)
    assert "variable body.2 has no value mapped" in at.error[0].value
    map_order_confirmation(at, prefix)
    bubble = at.html[0].value
    assert "Halo Ani, pesanan Anda nomor INV-9 senilai Rp 10.000" in bubble
    assert "Pesanan #INV-9" in bubble and "Lacak pesanan" in bubble
    next_step(next_step(at))
    assert not any("cannot be sent yet" in e.value for e in at.error)

    at.text_input(key="cb_w_test_phone").input("+62 811-0000-0099")
    at.button(key="cb_test_send").click().run()
    assert not at.exception, at.exception
    result = next(s.value for s in at.success if s.value.startswith("Test message sent"))
    assert result.startswith("Test message sent to +6281100000099: WhatsApp accepted it")
    [sent] = [m for m in sandbox.state.messages if m.wa_id == "6281100000099"]
    assert sent.template_name == "konfirmasi_pesanan" and sent.id in result
    with uow.session() as session:
        [stored] = session.scalars(select(Campaign)).all()
        actions = set(session.scalars(select(AuditLog.action)))
    assert stored.status == "draft" and stored.message_type == "template"
    assert stored.template_variables["body.1"] == {"source": "field", "value": "name",
                                                   "fallback": "Kak"}  # fmt: skip
    assert stored.template_variables["body.3"] == {"source": "fixed", "value": "Rp 10.000"}
    assert "campaign.test_send" in actions
    # A refused number is said, not raised.
    at.text_input(key="cb_w_test_phone").input("12")
    at.button(key="cb_test_send").click().run()
    assert "The test was not sent:" in at.error[0].value

    at.text_input(key="cb_w_saved_name").input("Konfirmasi pesanan standar")
    at.button(key="cb_saved_save").click().run()
    assert "Saved as 'Konfirmasi pesanan standar'" in texts(at)
    with uow.session() as session:
        saved = session.scalar(select(CampaignTemplate))
    assert saved is not None and saved.variables == stored.template_variables


def test_a_saved_message_is_a_starting_point(
    signed_in: Callable[[str], AppTest], owner: Actor, sandbox_shop: Shop, uow: UnitOfWork
) -> None:
    with uow.begin() as session:
        session.add(
            CampaignTemplate(
                name="Sapaan",
                message_type="text",
                content={"body": "Selamat pagi {name}!"},
                variables={},
                created_by=owner.id,
            )
        )
    at = next_step(audience(builder(signed_in, owner), sandbox_shop))
    with uow.session() as session:
        saved_id = str(session.scalar(select(CampaignTemplate.id)))
    at.selectbox(key="cb_saved_choice").select(saved_id).run()
    at.button(key="cb_saved_use").click().run()
    assert at.text_area(key="cb_w_body").value == "Selamat pagi {name}!"
    assert "Selamat pagi Ani!" in at.html[0].value


def test_send_now_launches_and_starts_delivery(
    signed_in: Callable[[str], AppTest],
    owner: Actor,
    sandbox_shop: Shop,
    sandbox: SandboxServer,
    uow: UnitOfWork,
) -> None:
    at = next_step(audience(builder(signed_in, owner), sandbox_shop, "Konfirmasi semua"))
    map_order_confirmation(at, choose_template(at, uow, "konfirmasi_pesanan"))
    next_step(next_step(at))
    at.button(key="cb_send_now").click().run()
    assert "to about 3 recipients now?" in at.warning[-1].value  # asks first
    at.button(key="cb_send_confirm").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Campaigns"
    assert "Campaign 'Konfirmasi semua' started: 3 recipients." in at.success[0].value
    with uow.session() as session:
        campaign = session.scalar(select(Campaign))
        assert campaign is not None and campaign.status in ("running", "completed")
        assert campaign.total_recipients == 3
    # The sender got going: every recipient's message reaches the sandbox.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with uow.session() as session:
            sent = session.scalar(
                select(func.count()).where(
                    CampaignMessage.campaign_id == campaign.id,
                    CampaignMessage.sent_at.is_not(None),
                )
            )
        if sent == 3:
            break
        time.sleep(0.2)
    assert sent == 3
    assert {m.wa_id for m in sandbox.state.messages} == {
        "6281100000001", "6281100000002", "6281100000004"
    }  # fmt: skip


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_an_uploaded_image_is_sent_by_its_media_id(
    signed_in: Callable[[str], AppTest],
    owner: Actor,
    sandbox_shop: Shop,
    sandbox: SandboxServer,
    uow: UnitOfWork,
) -> None:
    at = next_step(audience(builder(signed_in, owner), sandbox_shop, "Promo bergambar"))
    at.radio(key="cb_w_message_type").set_value("image").run()
    at.radio(key="cb_w_media_source").set_value("upload").run()
    chooser = at.get("file_uploader")[0]
    # Streamlit already refuses other extensions; the core checks the type WhatsApp is told.
    chooser.set_value(("scan.png", b"%PDF-1.4 katalog", "application/pdf")).run()
    at.button(key="cb_upload_image_send").click().run()
    assert "scan.png is a document (application/pdf) but this message sends an image" in (
        at.error[0].value
    )
    assert sandbox.state.media == {}
    at.get("file_uploader")[0].set_value(("promo.png", PNG, "image/png")).run()
    at.button(key="cb_upload_image_send").click().run()
    assert not at.exception, at.exception
    [media_id] = sandbox.state.media
    assert f"promo.png is uploaded (media id {media_id})" in at.success[0].value
    at.text_area(key="cb_w_caption").input("Promo untuk {name}").run()
    assert "Promo untuk Ani" in at.html[0].value
    assert f"uploaded file (media id {media_id})" in at.html[0].value
    next_step(next_step(at)).button(key="cb_save_draft").click().run()
    with uow.session() as session:
        stored = session.scalar(select(Campaign))
    assert stored is not None
    assert stored.message_content == {"media_id": media_id, "caption": "Promo untuk {name}"}


def test_a_template_header_image_can_be_uploaded(
    signed_in: Callable[[str], AppTest],
    owner: Actor,
    sandbox_shop: Shop,
    sandbox: SandboxServer,
    uow: UnitOfWork,
) -> None:
    at = next_step(audience(builder(signed_in, owner), sandbox_shop, "Promo akhir tahun"))
    prefix = choose_template(at, uow, "promo_akhir_tahun")
    at.file_uploader(key=prefix + "header.media_upload").set_value(("h.png", PNG, "image/png"))
    at.run()
    at.button(key=prefix.replace("cb_w_", "cb_") + "header.media_upload_send").click().run()
    assert not at.exception, at.exception
    [media_id] = sandbox.state.media
    assert at.text_input(key=prefix + "header.media_link").value == media_id
