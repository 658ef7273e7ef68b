"""Which media WhatsApp accepts for upload: MIME types, the message kind, the size limit."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from core.errors import InvalidInput

MB = 1024 * 1024
_DOCUMENT_TYPES = (
    "text/plain",
    "application/pdf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
)
# MIME type -> (message kind, largest file in bytes), from Meta's supported media types.
UPLOAD_LIMITS: dict[str, tuple[str, int]] = {
    "image/jpeg": ("image", 5 * MB),
    "image/png": ("image", 5 * MB),
    "video/mp4": ("video", 16 * MB),
    "video/3gpp": ("video", 16 * MB),
    **{mime: ("document", 100 * MB) for mime in _DOCUMENT_TYPES},
}


def check_upload(mime_type: str, size: int) -> str:
    """The message kind for an upload, or InvalidInput saying why WhatsApp would refuse it."""
    rule = UPLOAD_LIMITS.get((mime_type or "").lower())
    if rule is None:
        raise InvalidInput(
            f"WhatsApp does not accept {mime_type!r} files. Use JPEG or PNG images, MP4 or "
            "3GPP videos, or PDF, Word, Excel, PowerPoint or text documents."
        )
    kind, limit = rule
    if size == 0:
        raise InvalidInput("The file is empty.")
    if size > limit:
        raise InvalidInput(
            f"The {kind} is {size / MB:.1f} MB; WhatsApp accepts {kind}s up to {limit // MB} MB."
        )
    return kind


def upload_filename(path: Path | None, mime_type: str, filename: str | None) -> str:
    """The file name sent with an upload: the given one, the path's, or one from the type."""
    if filename:
        return filename
    if path is not None:
        return path.name
    return "upload" + (mimetypes.guess_extension(mime_type) or "")
