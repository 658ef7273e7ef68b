"""The sandbox's template library: what a small Indonesian shop's WABA typically holds.

Indonesian and English; marketing, utility and authentication; text, image, document and
video headers; positional ``{{1}}`` and named ``{{first_name}}`` placeholders; quick-reply
("Stop promosi") and URL buttons; a few templates that are pending, rejected, in appeal,
paused or disabled, because a real account always has some. ``generated_templates`` makes
any number of valid templates for benchmarks.
"""

from __future__ import annotations

from typing import Any

IMAGE_EXAMPLE = "https://scontent.whatsapp.net/v/t61.29466-34/sample-promo.jpg"
DOCUMENT_EXAMPLE = "https://scontent.whatsapp.net/v/t61.29466-34/sample-katalog.pdf"
VIDEO_EXAMPLE = "https://scontent.whatsapp.net/v/t61.29466-34/sample-tutorial.mp4"
SHOP_URL = "https://tokomaju.example"


def _header_media(fmt: str, example: str) -> dict[str, Any]:
    return {"type": "HEADER", "format": fmt, "example": {"header_handle": [example]}}


def _header_text(text: str, example: str | None = None, name: str | None = None) -> dict[str, Any]:
    header: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": text}
    if example is not None and name is None:
        header["example"] = {"header_text": [example]}
    elif example is not None:
        header["example"] = {"header_text_named_params": [{"param_name": name, "example": example}]}
    return header


def _body(text: str, *examples: str) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "BODY", "text": text}
    if examples:
        body["example"] = {"body_text": [list(examples)]}
    return body


def _named_body(text: str, **examples: str) -> dict[str, Any]:
    named = [{"param_name": name, "example": value} for name, value in examples.items()]
    return {"type": "BODY", "text": text, "example": {"body_text_named_params": named}}


def _footer(text: str) -> dict[str, Any]:
    return {"type": "FOOTER", "text": text}


def _buttons(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"type": "BUTTONS", "buttons": list(buttons)}


def _quick_reply(text: str) -> dict[str, Any]:
    return {"type": "QUICK_REPLY", "text": text}


def _url(text: str, path: str, example: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "URL", "text": text, "url": f"{SHOP_URL}/{path}"}
    if example is not None:
        button["example"] = [f"{SHOP_URL}/{example}"]
    return button


def _template(
    name: str,
    language: str,
    category: str,
    components: list[dict[str, Any]],
    status: str = "APPROVED",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "language": language,
        "category": category,
        "status": status,
        "components": components,
        **extra,
    }


STOP_ID = _quick_reply("Stop promosi")
STOP_EN = _quick_reply("Stop promotions")


def default_templates() -> list[dict[str, Any]]:
    """The definitions loaded on start and on reset (fresh dicts every call)."""
    return [
        _template(
            "hello_world",
            "en_US",
            "UTILITY",
            [
                _header_text("Hello World"),
                _body(
                    "Welcome and congratulations!! This message demonstrates your ability to "
                    "send a WhatsApp message notification from the Cloud API, hosted by Meta."
                ),
                _footer("WhatsApp Business Platform sample message"),
            ],
        ),
        _template(
            "promo_akhir_tahun",
            "id",
            "MARKETING",
            [
                _header_media("IMAGE", IMAGE_EXAMPLE),
                _body(
                    "Halo {{1}}, promo akhir tahun Toko Maju sudah dimulai! Diskon hingga {{2}} "
                    "untuk semua produk sampai {{3}}. Yuk belanja sekarang!",
                    "Budi",
                    "50%",
                    "31 Desember",
                ),
                _footer("Balas STOP untuk berhenti menerima promosi"),
                _buttons(STOP_ID, _url("Lihat promo", "promo/{{1}}", "promo/akhir-tahun")),
            ],
        ),
        _template(
            "promo_akhir_tahun",
            "en",
            "MARKETING",
            [
                _header_media("IMAGE", IMAGE_EXAMPLE),
                _body(
                    "Hi {{1}}, the Toko Maju year-end sale has started! Up to {{2}} off "
                    "everything until {{3}}. Shop now!",
                    "Budi",
                    "50%",
                    "31 December",
                ),
                _footer("Reply STOP to opt out"),
                _buttons(STOP_EN, _url("See the sale", "promo/{{1}}", "promo/year-end")),
            ],
        ),
        _template(
            "flash_sale",
            "id",
            "MARKETING",
            [
                _header_text("Flash sale {{sale_name}}", "Gajian", "sale_name"),
                _named_body(
                    "Hai {{first_name}}, flash sale {{sale_name}} cuma sampai jam {{end_time}}! "
                    "Pakai kode {{voucher_code}} saat checkout.",
                    first_name="Siti",
                    sale_name="Gajian",
                    end_time="21.00",
                    voucher_code="GAJIAN25",
                ),
                _buttons(STOP_ID),
            ],
            parameter_format="NAMED",
        ),
        _template(
            "back_in_stock",
            "en",
            "MARKETING",
            [
                _header_text("{{product_name}} is back!", "Batik shirt", "product_name"),
                _named_body(
                    "Hi {{first_name}}, {{product_name}} is back in stock at {{price}}. Grab "
                    "yours before it sells out again.",
                    first_name="Ayu",
                    product_name="Batik shirt",
                    price="Rp 249.000",
                ),
                _buttons(STOP_EN, _url("Shop now", "p/{{1}}", "p/batik-shirt")),
            ],
            parameter_format="NAMED",
        ),
        _template(
            "katalog_produk_baru",
            "id",
            "MARKETING",
            [
                _header_media("DOCUMENT", DOCUMENT_EXAMPLE),
                _body(
                    "Halo {{1}}, katalog produk terbaru kami untuk bulan {{2}} sudah terbit. "
                    "Silakan cek dokumen terlampir, ada banyak barang baru!",
                    "Budi",
                    "Januari",
                ),
                _buttons(STOP_ID),
            ],
        ),
        _template(
            "video_cara_pakai",
            "id",
            "MARKETING",
            [
                _header_media("VIDEO", VIDEO_EXAMPLE),
                _body(
                    "Halo {{1}}, tonton cara pakai {{2}} dalam video singkat ini!",
                    "Rina",
                    "blender Maju X2",
                ),
                _buttons(STOP_ID),
            ],
        ),
        _template(
            "pengumuman_toko",
            "id",
            "MARKETING",
            [
                _body(
                    "Toko Maju libur pada hari raya dan buka kembali keesokan harinya. "
                    "Terima kasih atas kepercayaan Anda!"
                ),
                _buttons(STOP_ID),
            ],
        ),
        _template(
            "konfirmasi_pesanan",
            "id",
            "UTILITY",
            [
                _header_text("Pesanan #{{1}}", "INV-1024"),
                _body(
                    "Halo {{1}}, pesanan Anda nomor {{2}} senilai {{3}} sudah kami terima dan "
                    "sedang diproses.",
                    "Budi",
                    "INV-1024",
                    "Rp 150.000",
                ),
                _footer("Toko Maju"),
                _buttons(_url("Lacak pesanan", "pesanan/{{1}}", "pesanan/INV-1024")),
            ],
        ),
        _template(
            "order_confirmation",
            "en",
            "UTILITY",
            [
                _header_text("Order #{{1}}", "INV-1024"),
                _body(
                    "Hi {{1}}, we received your order {{2}} of {{3}} and are preparing it.",
                    "Budi",
                    "INV-1024",
                    "Rp 150.000",
                ),
                _footer("Toko Maju"),
                _buttons(_url("Track order", "orders/{{1}}", "orders/INV-1024")),
            ],
        ),
        _template(
            "shipping_confirmation",
            "en",
            "UTILITY",
            [
                _header_media("IMAGE", IMAGE_EXAMPLE),
                _body(
                    "Hi {{1}}, your order of {{2}} ships today and arrives on {{3}}.",
                    "Budi",
                    "$100.99",
                    "February 25, 1977",
                ),
            ],
        ),
        _template(
            "pengingat_pembayaran",
            "id",
            "UTILITY",
            [
                _header_media("DOCUMENT", DOCUMENT_EXAMPLE),
                _named_body(
                    "Halo {{customer_name}}, tagihan {{invoice_number}} sebesar {{amount}} jatuh "
                    "tempo pada {{due_date}}. Abaikan pesan ini jika sudah membayar.",
                    customer_name="Budi",
                    invoice_number="INV-1024",
                    amount="Rp 150.000",
                    due_date="5 Januari",
                ),
                _buttons(_url("Bayar sekarang", "bayar/{{1}}", "bayar/INV-1024")),
            ],
            parameter_format="NAMED",
        ),
        _template(
            "info_pengiriman",
            "id",
            "UTILITY",
            [
                _body(
                    "Paket Anda dengan resi {{1}} sedang dikirim oleh {{2}} dan diperkirakan "
                    "tiba {{3}}.",
                    "JNE123456789",
                    "JNE",
                    "besok",
                ),
            ],
        ),
        _template(
            "sample_issue_resolution",
            "en_US",
            "UTILITY",
            [
                _body(
                    "Hi {{1}}, were we able to solve the issue that you were facing?", "Mr. Jones"
                ),
                _buttons(_quick_reply("Yes"), _quick_reply("No")),
            ],
        ),
        _template(
            "kode_verifikasi",
            "id",
            "AUTHENTICATION",
            [
                _body(
                    "*{{1}}* adalah kode verifikasi Anda. Demi keamanan, jangan bagikan kode ini.",
                    "123456",
                ),
                _footer("Kode ini berlaku 10 menit."),
                _buttons({"type": "OTP", "otp_type": "COPY_CODE", "text": "Salin kode"}),
            ],
        ),
        _template(
            "ulang_tahun_pelanggan",
            "id",
            "MARKETING",
            [
                _named_body(
                    "Selamat ulang tahun, {{first_name}}! Nikmati diskon {{discount}} khusus "
                    "untukmu minggu ini.",
                    first_name="Dewi",
                    discount="20%",
                ),
                _buttons(STOP_ID),
            ],
            status="PENDING",
            parameter_format="NAMED",
        ),
        _template(
            "survei_kepuasan",
            "id",
            "UTILITY",
            [
                _body("Halo {{1}}, bagaimana pengalaman belanja Anda di Toko Maju?", "Budi"),
                _buttons(_quick_reply("Puas"), _quick_reply("Kurang puas")),
            ],
            status="REJECTED",
            rejected_reason="INCORRECT_CATEGORY",
        ),
        _template(
            "promo_gajian",
            "id",
            "MARKETING",
            [
                _body("Gajian tiba, {{1}}! Diskon {{2}} khusus hari ini saja.", "Budi", "30%"),
                _buttons(STOP_ID),
            ],
            status="PAUSED",
        ),
        _template(
            "cuci_gudang",
            "id",
            "MARKETING",
            [
                _body("CUCI GUDANG! Semua barang mulai {{1}}. Buruan, {{2}}!", "Rp 10.000", "Budi"),
                _buttons(STOP_ID),
            ],
            status="DISABLED",
        ),
        _template(
            "appointment_reminder",
            "en",
            "UTILITY",
            [
                _body(
                    "Hi {{1}}, this is a reminder of your fitting at Toko Maju on {{2}}.",
                    "Ayu",
                    "Monday 10:00",
                ),
            ],
            status="IN_APPEAL",
        ),
    ]


_GENERATED_SHAPES = ("text", "image", "named", "document", "plain")


def generated_templates(
    count: int, *, prefix: str, start: int, status: str, language: str
) -> list[dict[str, Any]]:
    """``count`` valid, varied template definitions named ``{prefix}_{n:06d}``."""
    definitions = []
    for n in range(start, start + count):
        shape = _GENERATED_SHAPES[n % len(_GENERATED_SHAPES)]
        category = "UTILITY" if n % 3 == 0 else "MARKETING"
        extra: dict[str, Any] = {}
        if shape == "named":
            components = [
                _named_body(
                    f"Hai {{{{first_name}}}}, penawaran nomor {n} untukmu: {{{{offer}}}}.",
                    first_name="Budi",
                    offer="diskon 10%",
                ),
                _buttons(STOP_ID),
            ]
            extra["parameter_format"] = "NAMED"
        elif shape == "plain":
            components = [_body(f"Pengumuman nomor {n} dari Toko Maju.")]
        else:
            components = [
                _body(f"Halo {{{{1}}}}, pesan nomor {n}: {{{{2}}}}.", "Budi", "info terbaru"),
                _buttons(STOP_ID, _url("Buka", "m/{{1}}", f"m/{n}")),
            ]
            if shape == "image":
                components.insert(0, _header_media("IMAGE", IMAGE_EXAMPLE))
            elif shape == "document":
                components.insert(0, _header_media("DOCUMENT", DOCUMENT_EXAMPLE))
            else:
                components.insert(0, _header_text("Info {{1}}", "Toko Maju"))
        definitions.append(
            _template(f"{prefix}_{n:06d}", language, category, components, status=status, **extra)
        )
    return definitions
