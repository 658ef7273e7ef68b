"""Connecting a WhatsApp account and syncing its templates, against the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from core.bootstrap import Siaran
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.permissions import Actor
from core.whatsapp import (
    AccountCredentials,
    account_summary,
    check_connection,
    connect_account,
    list_templates,
    preview_template,
    sync_templates,
)
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from sql.schema import AuditLog, WhatsAppAccount, WhatsAppTemplate


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(latency_ms=0, latency_jitter_ms=0)
    with SandboxServer(config) as server:
        yield server


def credentials(sandbox: SandboxServer, **changes: object) -> AccountCredentials:
    config = sandbox.state.config
    values = {
        "name": "Toko Maju (sandbox)",
        "waba_id": config.waba_id,
        "phone_number_id": config.phone_number_id,
        "access_token": config.access_token,
        "app_secret": config.app_secret,
        "verify_token": config.verify_token,
        "api_base_url": sandbox.url,
        "is_sandbox": True,
    }
    return AccountCredentials(**(values | changes))


def connect(siaran: Siaran, owner: Actor, sandbox: SandboxServer) -> None:
    with siaran.uow.begin() as session:
        connect_account(session, owner, siaran.secrets, credentials(sandbox))


def test_connect_reads_the_number_and_encrypts_secrets(
    siaran: Siaran, owner: Actor, sandbox: SandboxServer
) -> None:
    connect(siaran, owner, sandbox)
    with siaran.uow.session() as session:
        account = session.scalars(select(WhatsAppAccount)).one()
        assert account.verified_name == "Toko Maju"
        assert account.display_phone_number == "+62 811-0000-0000"
        assert account.quality_rating == "GREEN"
        assert account.messaging_limit_tier == "TIER_2K"
        assert sandbox.state.config.access_token not in account.access_token_encrypted
        assert siaran.secrets.decrypt(account.app_secret_encrypted) == "sandbox-app-secret"
        summary = account_summary(account, siaran.secrets)
        assert summary["access_token"].startswith("••••")
        assert sandbox.state.config.access_token not in str(summary)
        actions = session.scalars(select(AuditLog.action)).all()
        assert "whatsapp_account.connect" in actions


def test_wrong_token_is_refused_and_nothing_is_stored(
    siaran: Siaran, owner: Actor, sandbox: SandboxServer
) -> None:
    with pytest.raises(InvalidInput, match="WhatsApp refused"), siaran.uow.begin() as session:
        connect_account(
            session, owner, siaran.secrets, credentials(sandbox, access_token="not-the-token")
        )
    with siaran.uow.session() as session:
        assert session.scalars(select(WhatsAppAccount)).all() == []


def test_only_owners_connect_and_sync(
    siaran: Siaran, owner: Actor, supervisor: Actor, sandbox: SandboxServer
) -> None:
    with pytest.raises(PermissionDenied), siaran.uow.begin() as session:
        connect_account(session, supervisor, siaran.secrets, credentials(sandbox))
    connect(siaran, owner, sandbox)
    with pytest.raises(PermissionDenied), siaran.uow.begin() as session:
        sync_templates(session, supervisor, siaran.secrets)
    with siaran.uow.session() as session:
        assert list_templates(session, supervisor) == []


def test_sync_without_an_account_says_what_to_do(siaran: Siaran, owner: Actor) -> None:
    with pytest.raises(NotFound, match="connect one"), siaran.uow.begin() as session:
        sync_templates(session, owner, siaran.secrets)


def test_sync_upserts_every_page_and_marks_removed(
    siaran: Siaran, owner: Actor, sandbox: SandboxServer
) -> None:
    connect(siaran, owner, sandbox)
    control = httpx.Client(base_url=f"{sandbox.url}/_sandbox")
    control.post("/templates/generate", json={"count": 230, "prefix": "bulk"}).raise_for_status()
    remote = control.get("/templates").json()
    remote_templates = remote["data"] if isinstance(remote, dict) else remote
    total = len(remote_templates)
    assert total > 230

    with siaran.uow.begin() as session:
        first = sync_templates(session, owner, siaran.secrets)
    assert (first.fetched, first.created, first.updated, first.removed) == (total, total, 0, 0)

    with siaran.uow.begin() as session:
        again = sync_templates(session, owner, siaran.secrets)
    assert (again.created, again.updated, again.removed) == (0, 0, 0)

    promo = next(t for t in remote_templates if not t["name"].startswith("bulk"))
    control.post(f"/templates/{promo['id']}/status", json={"status": "PAUSED"}).raise_for_status()
    gone = next(t for t in remote_templates if t["name"].startswith("bulk"))
    control.delete(f"/templates/{gone['id']}").raise_for_status()
    with siaran.uow.begin() as session:
        third = sync_templates(session, owner, siaran.secrets)
    assert (third.created, third.updated, third.removed) == (0, 1, 1)

    with siaran.uow.session() as session:
        paused = session.scalars(
            select(WhatsAppTemplate).where(WhatsAppTemplate.name == promo["name"])
        ).one()
        assert paused.status == "PAUSED"
        visible = list_templates(session, owner)
        assert gone["name"] not in {t.name for t in visible}
        assert len(visible) == total - 1
        assert len(list_templates(session, owner, include_removed=True)) == total
        assert {t.status for t in list_templates(session, owner, status="paused")} == {"PAUSED"}


def test_preview_uses_examples_or_given_values(
    siaran: Siaran, owner: Actor, sandbox: SandboxServer
) -> None:
    connect(siaran, owner, sandbox)
    with siaran.uow.begin() as session:
        sync_templates(session, owner, siaran.secrets)
    with siaran.uow.session() as session:
        template = next(
            t
            for t in list_templates(session, owner, status="APPROVED")
            if any(v["component"] == "body" for v in t.variables)
        )
        _, rendered, used = preview_template(session, owner, template.id)
        assert rendered.body and "{{" not in rendered.body
        with pytest.raises(InvalidInput, match="missing value"):
            preview_template(session, owner, template.id, {})
        assert used


def test_check_connection_refreshes_quality(
    siaran: Siaran, owner: Actor, sandbox: SandboxServer
) -> None:
    connect(siaran, owner, sandbox)
    httpx.patch(f"{sandbox.url}/_sandbox/config", json={"quality_rating": "YELLOW"})
    with siaran.uow.begin() as session:
        account = check_connection(session, owner, siaran.secrets)
        assert account.quality_rating == "YELLOW"
