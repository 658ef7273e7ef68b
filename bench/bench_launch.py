"""Campaign launch at 100,000 recipients: resolve, render and insert the outbox, per engine.

Builds a fresh, migrated database with a static segment of 105,000 contacts of whom 2,000
opted out and 3,000 got a broadcast within the cooldown, so 100,000 remain; connects an
account and an approved template (image header, two body variables, a URL button), then
times ``launch_campaign`` for a template campaign (fields with fallbacks, a fixed value)
inside one unit of work, commit included. Every recipient's Cloud API body is rendered.

    .venv/bin/python bench/bench_launch.py --engine sqlite
    .venv/bin/python bench/bench_launch.py --engine postgresql

Target: < 20 s on each engine (issue 5). ``--message text`` times a text campaign instead.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Engine, func, insert, select, text

from core.campaigns.launch import launch_campaign
from core.db import UnitOfWork, make_engine
from core.permissions import SYSTEM_ACTOR
from core.security import SecretBox
from core.settings import Settings
from sql.migrate import upgrade
from sql.schema import (
    Campaign,
    CampaignMessage,
    Contact,
    ContactPreference,
    Segment,
    SegmentMember,
    WhatsAppAccount,
    WhatsAppTemplate,
)
from sql.types import utcnow

PG_URL = os.environ.get(
    "SIARAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_DATABASE = "siaran_bench_launch"
CITIES = ["Jakarta", "Bandung", "Surabaya", "Medan", "Makassar", None]
COMPONENTS: list[dict[str, Any]] = [
    {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["https://x.test/h.jpg"]}},
    {
        "type": "BODY",
        "text": "Halo {{1}}! Diskon {{2}} khusus pelanggan di {{3}} sampai akhir bulan.",
        "example": {"body_text": [["Budi", "20%", "Jakarta"]]},
    },
    {"type": "FOOTER", "text": "Balas STOP untuk berhenti"},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "URL", "text": "Belanja", "url": "https://toko.test/v/{{1}}", "example": ["x"]}
        ],
    },
]
VARIABLES = {
    "header.media": {"source": "fixed", "value": "https://toko.test/promo.jpg"},
    "body.1": {"source": "field", "value": "name", "fallback": "Kak"},
    "body.2": {"source": "fixed", "value": "20%"},
    "body.3": {"source": "field", "value": "city", "fallback": "kota Anda"},
    "button.0.1": {"source": "field", "value": "voucher"},
}


def fresh_engine(kind: str, workdir: Path) -> Engine:
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{workdir / 'launch.db'}")
    else:
        server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
        server.dispose()
        engine = make_engine(PG_URL.rsplit("/", 1)[0] + "/" + PG_DATABASE)
    upgrade(engine)
    return engine


def seed(engine: Engine, recipients: int, secrets: SecretBox, message: str) -> uuid.UUID:
    """The segment, exclusions, account, template and a draft campaign; its id."""
    opted_out, cooling = recipients // 50, recipients * 3 // 100
    members = recipients + opted_out + cooling
    now = utcnow()
    segment_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            insert(Segment),
            [{"id": segment_id, "name": "Bench", "criteria": {}, "kind": "static",
              "contact_count": members, "reachable_count": recipients,
              "created_at": now, "updated_at": now}],
        )  # fmt: skip
        batch: list[dict[str, Any]] = []
        ids: list[uuid.UUID] = []
        for i in range(members):
            contact_id = uuid.uuid4()
            ids.append(contact_id)
            fields: dict[str, Any] = {"voucher": f"V{i:06d}", "tier": "gold" if i % 7 else "vip"}
            city = CITIES[i % len(CITIES)]
            if city:
                fields["city"] = city
            batch.append(
                {"id": contact_id, "name": f"Pelanggan {i}", "phone": f"+62813{i:08d}",
                 "custom_fields": fields, "created_at": now, "updated_at": now}
            )  # fmt: skip
            if len(batch) == 10_000:
                conn.execute(insert(Contact), batch)
                batch = []
        if batch:
            conn.execute(insert(Contact), batch)
        for start in range(0, members, 10_000):
            conn.execute(
                insert(SegmentMember),
                [{"segment_id": segment_id, "contact_id": c, "snapshot_at": now}
                 for c in ids[start : start + 10_000]],
            )  # fmt: skip
        conn.execute(
            insert(ContactPreference),
            [{"contact_id": c, "opted_out": i < opted_out, "updated_at": now,
              "opted_out_at": now if i < opted_out else None,
              "last_broadcast_at": None if i < opted_out else now - timedelta(hours=3)}
             for i, c in enumerate(ids[: opted_out + cooling])],
        )  # fmt: skip
        account_id, template_id, campaign_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        conn.execute(
            insert(WhatsAppAccount),
            [{"id": account_id, "name": "Bench", "waba_id": "4195", "phone_number_id": "1065",
              "api_base_url": "https://graph.facebook.com", "api_version": "v25.0",
              "access_token_encrypted": secrets.encrypt("token-bench"),
              "app_secret_encrypted": secrets.encrypt("secret-bench"),
              "verify_token_encrypted": secrets.encrypt("verify-bench"),
              "messaging_limit_tier": "TIER_100K", "throughput_per_second": 1000,
              "is_sandbox": True, "is_active": True, "connected_at": now,
              "created_at": now, "updated_at": now}],
        )  # fmt: skip
        conn.execute(
            insert(WhatsAppTemplate),
            [{"id": template_id, "account_id": account_id, "name": "promo_bench",
              "language": "id", "category": "MARKETING", "status": "APPROVED",
              "parameter_format": "POSITIONAL", "components": COMPONENTS, "variables": [],
              "created_at": now, "updated_at": now}],
        )  # fmt: skip
        content: dict[str, Any] = {}
        if message == "text":
            content = {"body": "Halo {name}! Diskon 20% di {city}, kode {voucher}.",
                       "fallbacks": {"city": "kota Anda"}}  # fmt: skip
        conn.execute(
            insert(Campaign),
            [{"id": campaign_id, "name": "Bench launch", "segment_id": segment_id,
              "whatsapp_account_id": account_id, "status": "draft", "message_type": message,
              "message_content": content,
              "whatsapp_template_id": template_id if message == "template" else None,
              "template_variables": VARIABLES if message == "template" else {},
              "timezone": "Asia/Jakarta", "rate_limit": 1000, "created_at": now,
              "updated_at": now}],
        )  # fmt: skip
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return campaign_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], required=True)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--message", choices=["template", "text"], default="template")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        engine = fresh_engine(args.engine, Path(workdir))
        settings = Settings(
            env="test", data_dir=Path(workdir), secret_key=Fernet.generate_key().decode()
        )
        started = time.perf_counter()
        campaign_id = seed(engine, args.recipients, SecretBox.from_settings(settings), args.message)
        print(f"seeded in {time.perf_counter() - started:.1f} s")
        uow = UnitOfWork(engine)
        started = time.perf_counter()
        with uow.begin() as session:
            report = launch_campaign(session, SYSTEM_ACTOR, campaign_id, settings=settings)
        elapsed = time.perf_counter() - started
        with uow.session() as session:
            stored = session.scalar(
                select(func.count())
                .select_from(CampaignMessage)
                .where(CampaignMessage.campaign_id == campaign_id)
            )
        print(
            f"{args.engine} {args.message}: {report.members:,} members -> {report.recipients:,} "
            f"recipients ({report.excluded}), {stored:,} rows stored; launch {elapsed:.2f} s "
            f"({report.recipients / elapsed:,.0f} recipients/s; inside launch_campaign "
            f"{report.seconds:.2f} s before commit)"
        )
        engine.dispose()
        if args.engine == "postgresql":
            server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with server.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
            server.dispose()


if __name__ == "__main__":
    main()
