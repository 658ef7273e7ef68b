"""Media an owner uploads to WhatsApp for a campaign (an image, video or document).

A campaign sends media by a public https link or by the id WhatsApp gives an uploaded
file. ``upload_media`` checks the file against WhatsApp's types and sizes before sending
it, uploads it from the connected number and audits it. WhatsApp keeps uploaded media for
``MEDIA_RETENTION_DAYS`` days: a campaign that starts later must upload again or use a link.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core import audit
from core.errors import InvalidInput
from core.permissions import Actor, Permission, require
from core.security import SecretBox
from core.whatsapp import ClientFactory, active_account, client_for, run_async
from sender.cloud_api import CloudApiClient
from sender.errors import CloudApiError
from sender.media import check_upload, upload_filename

MEDIA_RETENTION_DAYS = 30


@dataclass(frozen=True)
class UploadedMedia:
    media_id: str
    kind: str  # "image", "video" or "document"
    filename: str
    size: int


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


async def _upload(client: CloudApiClient, data: bytes, mime_type: str, filename: str) -> str:
    async with client:
        return await client.upload_media(data, mime_type, filename=filename)


def upload_media(
    session: Session,
    actor: Actor,
    secrets: SecretBox,
    data: bytes,
    mime_type: str,
    *,
    filename: str | None = None,
    expected_kind: str | None = None,
    client_factory: ClientFactory = client_for,
) -> UploadedMedia:
    """Upload a file for campaigns to send; InvalidInput says why WhatsApp would refuse it.

    ``expected_kind`` (image, video or document) refuses a file of another kind before
    anything is uploaded.
    """
    require(actor, Permission.CAMPAIGN_WRITE)
    kind = check_upload(mime_type, len(data))
    if expected_kind is not None and kind != expected_kind:
        raise InvalidInput(
            f"{filename or 'The file'} is {_a(kind)} ({mime_type}) but this message sends "
            f"{_a(expected_kind)}. Upload {_a(expected_kind)}, or change the message type."
        )
    account = active_account(session)
    if account is None:
        raise InvalidInput("No WhatsApp account is connected; connect one in WhatsApp account.")
    name = upload_filename(None, mime_type, filename)
    try:
        media_id = run_async(_upload(client_factory(account, secrets), data, mime_type, name))
    except CloudApiError as exc:
        raise InvalidInput(f"WhatsApp refused the upload: {exc.message}") from None
    audit.record(
        session, actor, "media.upload", "whatsapp_account", account.id,
        {"media_id": media_id, "kind": kind, "filename": name, "mime_type": mime_type,
         "size": len(data)},
    )  # fmt: skip
    return UploadedMedia(media_id, kind, name, len(data))
