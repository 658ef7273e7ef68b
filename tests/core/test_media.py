"""Uploading campaign media to WhatsApp (the sandbox, over real HTTP): checks, audit, refusals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from core.bootstrap import Siaran
from core.errors import InvalidInput, PermissionDenied
from core.media import upload_media
from core.permissions import Actor
from core.sandbox_account import sandbox_credentials
from core.whatsapp import connect_account
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from sql.schema import AuditLog

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(latency_ms=0, latency_jitter_ms=0)) as server:
        yield server


@pytest.fixture
def connected(siaran: Siaran, owner: Actor, sandbox: SandboxServer) -> None:
    with siaran.uow.begin() as session:
        connect_account(session, owner, siaran.secrets, sandbox_credentials(sandbox.url))


@pytest.mark.usefixtures("connected")
def test_an_image_is_uploaded_and_audited(
    siaran: Siaran, owner: Actor, sandbox: SandboxServer
) -> None:
    with siaran.uow.begin() as session:
        media = upload_media(
            session, owner, siaran.secrets, PNG, "image/png", filename="promo.png",
            expected_kind="image",
        )  # fmt: skip
    assert media.kind == "image" and media.filename == "promo.png" and media.size == len(PNG)
    assert sandbox.state.media[media.media_id].filename == "promo.png"
    with siaran.uow.session() as session:
        entry = session.scalar(select(AuditLog).where(AuditLog.action == "media.upload"))
    assert entry is not None and entry.actor_id == owner.id
    assert entry.details["media_id"] == media.media_id


@pytest.mark.usefixtures("connected")
def test_wrong_kinds_types_and_roles_are_refused_before_uploading(
    siaran: Siaran, owner: Actor, supervisor: Actor, sandbox: SandboxServer
) -> None:
    with siaran.uow.begin() as session:
        with pytest.raises(InvalidInput, match=r"promo\.png is an image .* sends a document"):
            upload_media(
                session, owner, siaran.secrets, PNG, "image/png", filename="promo.png",
                expected_kind="document",
            )  # fmt: skip
        with pytest.raises(InvalidInput, match="WhatsApp does not accept 'image/gif'"):
            upload_media(session, owner, siaran.secrets, b"GIF89a", "image/gif")
        with pytest.raises(PermissionDenied):
            upload_media(session, supervisor, siaran.secrets, PNG, "image/png")
    assert sandbox.state.media == {}


def test_without_an_account_nothing_is_uploaded(siaran: Siaran, owner: Actor) -> None:
    with siaran.uow.begin() as session, pytest.raises(InvalidInput, match="No WhatsApp account"):
        upload_media(session, owner, siaran.secrets, PNG, "image/png")
