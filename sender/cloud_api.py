"""The async WhatsApp Cloud API client: send messages, upload media, read the account.

httpx's API on an aiohttp transport: httpx's own transport collapses with hundreds of
requests in flight (DESIGN.md, "Facts measured here"), and the sender needs that many to
reach Meta's highest throughput at real latencies. Every failure is raised as a classified
``sender.errors`` exception. One client belongs to one event loop; close it when done.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from core.errors import InvalidInput
from sender import payloads
from sender.errors import CloudApiError, NetworkError, RecipientError, error_from_response
from sender.media import check_upload, upload_filename
from sender.models import MessageTemplate, PhoneNumberInfo, SendResult

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v25.0"
# Meta's top throughput (1,000 msg/s) at a few hundred ms per call needs hundreds in flight.
DEFAULT_MAX_CONNECTIONS = 512
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
PHONE_NUMBER_FIELDS = (
    "display_phone_number,verified_name,quality_rating,throughput,"
    "whatsapp_business_manager_messaging_limit"
)
LEGACY_PHONE_NUMBER_FIELDS = (
    "display_phone_number,verified_name,quality_rating,throughput,messaging_limit_tier"
)
TEMPLATE_FIELDS = "id,name,status,category,language,parameter_format,components"
_ID = re.compile(r"[A-Za-z0-9_.-]+")


def scalable_transport(max_connections: int = DEFAULT_MAX_CONNECTIONS) -> AiohttpTransport:
    """An httpx transport that keeps ``max_connections`` requests in flight efficiently."""
    return AiohttpTransport(
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
    )


class CloudApiClient:
    """One business phone number (and its WABA) on the Cloud API, or on the sandbox."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        phone_number_id: str,
        waba_id: str,
        api_version: str = DEFAULT_API_VERSION,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
            raise InvalidInput(f"API base URL {base_url!r} must start with https:// (or http://).")
        if not re.fullmatch(r"v\d+\.\d+", api_version):
            raise InvalidInput(f"API version {api_version!r} must look like v25.0.")
        for label, value in (("phone number id", phone_number_id), ("WABA id", waba_id)):
            if not isinstance(value, str) or not _ID.fullmatch(value):
                raise InvalidInput(f"The {label} {value!r} is not a WhatsApp id.")
        if not access_token or not access_token.strip():
            raise InvalidInput("The access token is empty.")
        self.base_url = base_url.rstrip("/")
        self.phone_number_id = phone_number_id
        self.waba_id = waba_id
        self.api_version = api_version
        # Built once: parsing and merging a relative URL costs ~10% of a send's CPU.
        self._messages_url = httpx.URL(f"{self.base_url}/{api_version}/{phone_number_id}/messages")
        self._http = httpx.AsyncClient(
            base_url=f"{self.base_url}/{api_version}/",
            headers={"Authorization": f"Bearer {access_token.strip()}", "User-Agent": "siaran"},
            transport=transport or scalable_transport(max_connections),
            timeout=timeout,
        )

    def __repr__(self) -> str:  # never shows the access token
        return f"CloudApiClient({self.base_url!r}, phone_number_id={self.phone_number_id!r})"

    async def __aenter__(self) -> CloudApiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- sending -------------------------------------------------------------------------

    async def send(
        self, payload: Mapping[str, Any], *, biz_opaque_callback_data: str | None = None
    ) -> SendResult:
        """Post a pre-rendered message body; it must carry ``biz_opaque_callback_data``."""
        body = dict(payload)
        if biz_opaque_callback_data is not None:
            given = body.get("biz_opaque_callback_data")
            if given is not None and given != biz_opaque_callback_data:
                raise InvalidInput("The payload already carries another biz_opaque_callback_data.")
            body["biz_opaque_callback_data"] = biz_opaque_callback_data
        payloads.callback_data(body.get("biz_opaque_callback_data"))
        answer = await self._call("POST", self._messages_url, json=body, sends_message=True)
        try:
            return SendResult.from_response(answer)
        except (KeyError, IndexError, TypeError, AttributeError):
            raise NetworkError(
                "WhatsApp accepted the request but its answer has no message id; the message "
                "may have been sent. Siaran checks the status webhooks before sending it again.",
                outcome_unknown=True,
                raw=answer,
            ) from None

    async def send_text(
        self, to: str, body: str, *, preview_url: bool = False, biz_opaque_callback_data: str
    ) -> SendResult:
        payload = payloads.text_message(
            to, body, preview_url=preview_url, callback=biz_opaque_callback_data
        )
        return await self.send(payload)

    async def send_media(
        self,
        to: str,
        kind: payloads.MediaKind,
        *,
        link: str | None = None,
        media_id: str | None = None,
        caption: str | None = None,
        filename: str | None = None,
        biz_opaque_callback_data: str,
    ) -> SendResult:
        payload = payloads.media_message(
            to,
            kind,
            link=link,
            media_id=media_id,
            caption=caption,
            filename=filename,
            callback=biz_opaque_callback_data,
        )
        return await self.send(payload)

    async def send_template(
        self,
        to: str,
        name: str,
        language: str,
        *,
        components: Sequence[dict[str, Any]] | None = None,
        header: payloads.Header | None = None,
        body: Sequence[payloads.ParameterValue]
        | Mapping[str, payloads.ParameterValue]
        | None = None,
        buttons: Sequence[payloads.Button] = (),
        biz_opaque_callback_data: str,
    ) -> SendResult:
        """Send an approved template with raw ``components`` or header/body/button values."""
        payload = payloads.template_message(
            to,
            name,
            language,
            components=components,
            header=header,
            body=body,
            buttons=buttons,
            callback=biz_opaque_callback_data,
        )
        return await self.send(payload)

    # --- media and account -----------------------------------------------------------------

    async def upload_media(
        self, file: str | Path | bytes, mime_type: str, *, filename: str | None = None
    ) -> str:
        """Upload an image, video or document; returns the media id to send it by."""
        path: Path | None = None
        if isinstance(file, bytes):
            content = file
        else:
            path = Path(file)
            if not path.is_file():
                raise InvalidInput(f"There is no file at {str(path)!r}.")
            check_upload(mime_type, path.stat().st_size)  # before reading up to 100 MB
            content = await asyncio.to_thread(path.read_bytes)
        check_upload(mime_type, len(content))
        name = upload_filename(path, mime_type, filename)
        answer = await self._call(
            "POST",
            f"{self.phone_number_id}/media",
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (name, content, mime_type)},
        )
        media_id = answer.get("id")
        if not media_id:
            raise NetworkError("WhatsApp's answer to the media upload has no media id.", raw=answer)
        return str(media_id)

    async def get_phone_number_info(self) -> PhoneNumberInfo:
        """Display number, verified name, quality rating, throughput and messaging limit."""
        try:
            answer = await self._call(
                "GET", self.phone_number_id, params={"fields": PHONE_NUMBER_FIELDS}
            )
        except RecipientError as exc:
            if exc.code != 100:
                raise
            # API versions before v24 do not know the portfolio-level field yet.
            answer = await self._call(
                "GET", self.phone_number_id, params={"fields": LEGACY_PHONE_NUMBER_FIELDS}
            )
        try:
            return PhoneNumberInfo.from_response(answer)
        except KeyError:
            raise NetworkError("WhatsApp's phone number answer has no id.", raw=answer) from None

    async def list_templates(self, *, limit: int = 100) -> AsyncIterator[MessageTemplate]:
        """Every message template of the WABA, following the cursor pages to the end."""
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000.")
        url = f"{self.waba_id}/message_templates"
        params: dict[str, Any] = {"fields": TEMPLATE_FIELDS, "limit": limit}
        seen_cursors: set[str] = set()
        while True:
            answer = await self._call("GET", url, params=params)
            data = answer.get("data")
            if not isinstance(data, list):
                raise NetworkError("WhatsApp's template list has no data.", raw=answer)
            for item in data:
                try:
                    yield MessageTemplate.from_response(item)
                except (KeyError, TypeError):
                    raise NetworkError(
                        "WhatsApp returned a template without id, name, language or status.",
                        raw=item if isinstance(item, dict) else {"item": item},
                    ) from None
            paging = answer.get("paging") or {}
            # Graph keeps cursors on the last page too: only "next" says there is more.
            if not paging.get("next"):
                return
            after = (paging.get("cursors") or {}).get("after")
            if after:
                if after in seen_cursors:
                    raise NetworkError(
                        "WhatsApp returned the same page of templates twice; stopped listing.",
                        raw=answer,
                    )
                seen_cursors.add(after)
                params = {"fields": TEMPLATE_FIELDS, "limit": limit, "after": after}
            elif self._same_origin(paging["next"]):
                url, params = paging["next"], {}
            else:
                raise NetworkError(
                    "WhatsApp's next template page points elsewhere; stopped listing.",
                    raw=answer,
                )

    # --- HTTP --------------------------------------------------------------------------------

    def _same_origin(self, url: str) -> bool:
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    async def _call(
        self, method: str, url: str | httpx.URL, *, sends_message: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        """One request; returns the JSON object or raises a classified CloudApiError."""
        try:
            response = await self._http.request(method, url, **kwargs)
        except (TimeoutError, httpx.TransportError, aiohttp.ClientError) as exc:
            raise _network_error(exc, sends_message) from exc
        try:
            body = response.json()
        except ValueError:
            body = response.text[:1000]
        if response.status_code >= 400:
            raise error_from_response(
                response.status_code, body, retry_after=_retry_after(response)
            )
        if not isinstance(body, dict):
            raise NetworkError(
                f"WhatsApp answered HTTP {response.status_code} with something that is not JSON.",
                http_status=response.status_code,
                outcome_unknown=sends_message,
                raw={"body": body},
            )
        return body


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


def _never_reached_meta(exc: BaseException) -> bool:
    """True when the request certainly never left: the connection itself failed."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    aiohttp_errors = [e for e in chain if isinstance(e, aiohttp.ClientError)]
    if aiohttp_errors:  # httpx_aiohttp maps some of these loosely; trust the original
        return isinstance(
            aiohttp_errors[-1], aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError
        )
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _network_error(exc: BaseException, sends_message: bool) -> CloudApiError:
    if _never_reached_meta(exc):
        what = "Siaran could not connect to WhatsApp"
        unknown = False
    else:
        what = "The connection to WhatsApp failed before an answer came back"
        unknown = sends_message
    message = f"{what} ({type(exc).__name__}: {exc or 'no detail'})."
    if unknown:
        message += " The message may have been sent; Siaran checks before sending it again."
    else:
        message += " Siaran retries automatically."
    return NetworkError(message, outcome_unknown=unknown)
