"""The Graph API paths Siaran uses, answered as Meta answers them.

``POST /{version}/{phone_number_id}/messages`` and ``/media``, ``GET /{version}/{node_id}``
(the phone number, the WABA or a template) and ``GET /{version}/{waba_id}/message_templates``.
Every response, error or not, waits out the configured latency with ``asyncio.sleep``, so a
slow answer never holds up another request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web

from sandbox.errors import (
    GraphError,
    bad_token,
    invalid_parameter,
    invalid_value,
    nonexisting_field,
    parameter_required,
    unknown_path,
    unsupported_request,
)
from sandbox.state import STATE, MediaItem, SandboxState
from sandbox.templates import (
    DEFAULT_FIELDS,
    TEMPLATE_FIELDS,
    Template,
    decode_cursor,
    encode_cursor,
)
from sandbox.validation import validate_send

log = logging.getLogger(__name__)
MB = 1024 * 1024
MEDIA_LIMITS: dict[str, tuple[str, int]] = {
    "image/jpeg": ("image", 5 * MB),
    "image/png": ("image", 5 * MB),
    "video/mp4": ("video", 16 * MB),
    "video/3gpp": ("video", 16 * MB),
    "text/plain": ("document", 100 * MB),
    "application/pdf": ("document", 100 * MB),
    "application/msword": ("document", 100 * MB),
    "application/vnd.ms-excel": ("document", 100 * MB),
    "application/vnd.ms-powerpoint": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (
        "document",
        100 * MB,
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        "document",
        100 * MB,
    ),
}
PHONE_DEFAULT_FIELDS = (
    "verified_name",
    "code_verification_status",
    "display_phone_number",
    "quality_rating",
    "platform_type",
    "throughput",
)
WABA_DEFAULT_FIELDS = ("name", "timezone_id", "message_template_namespace")
MAX_TEMPLATE_PAGE = 1000

Handler = Callable[[web.Request, SandboxState], Awaitable[tuple[int, dict[str, Any]]]]


def graph_endpoint(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Version check, Bearer auth, Meta-shaped errors and non-blocking latency for a handler."""

    async def endpoint(request: web.Request) -> web.Response:
        started = asyncio.get_running_loop().time()
        state = request.app[STATE]
        headers: dict[str, str] = {}
        try:
            version = request.match_info["version"]
            if not state.config.accepts_version(version):
                raise unknown_path(request.path)
            _authorize(request, state)
            status, body = await handler(request, state)
        except GraphError as error:
            status, body = error.http_status, error.body()
            if error.code == 190:
                headers["WWW-Authenticate"] = 'OAuth "Facebook Platform" "invalid_token"'
        except Exception:
            # A sandbox bug: still answer in Graph's shape (code 1, transient) so clients
            # behave as they would with Meta, and leave the traceback in the log.
            log.exception("sandbox error on %s %s", request.method, request.path)
            error = GraphError(1, message="An unknown error occurred", http_status=500)
            status, body = error.http_status, error.body()
        config = state.config
        delay = config.latency_ms + random.uniform(-1, 1) * config.latency_jitter_ms
        remaining = delay / 1000 - (asyncio.get_running_loop().time() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)
        return web.Response(
            body=json.dumps(body, separators=(",", ":")),
            status=status,
            content_type="application/json",
            headers=headers,
        )

    return endpoint


def _authorize(request: web.Request, state: SandboxState) -> None:
    header = request.headers.get("Authorization")
    token = request.query.get("access_token")
    if header is not None:
        scheme, _, value = header.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    if not token:
        raise bad_token(missing=True)
    if not hmac.compare_digest(token.encode(), state.config.access_token.encode()):
        raise bad_token(missing=False)


def _require_node(state: SandboxState, node_id: str, expected: str, method: str) -> None:
    if node_id != expected:
        raise unsupported_request(method, node_id)


async def _json_body(request: web.Request) -> Any:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise invalid_parameter("The request body is larger than 1 MB.") from None
    if not raw:
        raise invalid_parameter("The request body is empty; send a JSON object.")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid_parameter(f"The request body is not valid JSON: {exc}") from None


@graph_endpoint
async def send_message(request: web.Request, state: SandboxState) -> tuple[int, dict[str, Any]]:
    config = state.config
    _require_node(state, request.match_info["node_id"], config.phone_number_id, "POST")
    payload = await _json_body(request)
    if isinstance(payload, dict) and payload.get("status") == "read":
        return 200, _mark_read(payload, state)
    message = validate_send(payload, state.templates, state.media_kinds, config.display_digits)
    record = state.accept(message)
    return 200, {
        "messaging_product": "whatsapp",
        "contacts": [{"input": message.to_input, "wa_id": message.wa_id}],
        "messages": [{"id": record.id, "message_status": "accepted"}],
    }


def _mark_read(payload: dict[str, Any], state: SandboxState) -> dict[str, Any]:
    """``{"status": "read", "message_id": ...}`` marks a customer's message as read."""
    if payload.get("messaging_product") != "whatsapp":
        raise parameter_required("messaging_product")
    message_id = payload.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise parameter_required("message_id")
    if message_id not in state.inbound_ids:
        raise invalid_value(f"Message {message_id} is not a message this phone number received.")
    return {"success": True}


@graph_endpoint
async def upload_media(request: web.Request, state: SandboxState) -> tuple[int, dict[str, Any]]:
    _require_node(state, request.match_info["node_id"], state.config.phone_number_id, "POST")
    if not request.content_type.startswith("multipart/"):
        raise invalid_parameter(
            "Upload media as multipart/form-data (file, type, messaging_product)."
        )
    fields: dict[str, str] = {}
    upload: tuple[str, str, int, str] | None = None  # filename, part type, size, sha256
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise invalid_parameter("Nested multipart bodies are not accepted.")
        if part.name == "file":
            upload = await _read_file(part)
        elif part.name:
            fields[part.name] = (await part.read(decode=True)).decode(errors="replace")[:256]
    if fields.get("messaging_product") is None:
        raise parameter_required("messaging_product")
    if fields["messaging_product"] != "whatsapp":
        raise invalid_parameter('Param messaging_product must be "whatsapp".')
    if upload is None:
        raise parameter_required("file")
    filename, part_type, size, sha256 = upload
    mime_type = (fields.get("type") or part_type or "").split(";")[0].strip().lower()
    if not mime_type:
        raise parameter_required("type")
    if mime_type not in MEDIA_LIMITS:
        raise invalid_parameter(
            "Param file must be a file with one of the following types: "
            f"{', '.join(MEDIA_LIMITS)}. Received file of type '{mime_type}'."
        )
    kind, limit = MEDIA_LIMITS[mime_type]
    if size == 0:
        raise invalid_parameter("Param file is empty.")
    if size > limit:
        raise GraphError(
            131053,
            f"The {mime_type} file is {size} bytes; {kind} uploads are limited to "
            f"{limit // MB} MB.",
        )
    item = MediaItem(state.new_media_id(), kind, mime_type, size, sha256, filename)
    state.add_media(item)
    return 200, {"id": item.id}


async def _read_file(part: BodyPartReader) -> tuple[str, str, int, str]:
    """Stream the file part: its size and hash, never more than the largest limit in memory."""
    digest = hashlib.sha256()
    size = 0
    cap = max(limit for _, limit in MEDIA_LIMITS.values())
    while chunk := await part.read_chunk(256 * 1024):
        size += len(chunk)
        if size > cap:
            raise GraphError(131053, f"The file is larger than the {cap // MB} MB upload limit.")
        digest.update(chunk)
    return part.filename or "", part.headers.get("Content-Type", ""), size, digest.hexdigest()


def _fields(request: web.Request, allowed: tuple[str, ...], node_type: str) -> list[str] | None:
    raw = request.query.get("fields")
    if raw is None or not raw.strip():
        return None
    fields = []
    for name in raw.split(","):
        name = name.strip().split("{", 1)[0]
        if not name:
            continue
        if name not in allowed:
            raise nonexisting_field(name, node_type)
        fields.append(name)
    return fields


@graph_endpoint
async def get_node(request: web.Request, state: SandboxState) -> tuple[int, dict[str, Any]]:
    node_id = request.match_info["node_id"]
    config = state.config
    if node_id == config.phone_number_id:
        values = {
            "id": config.phone_number_id,
            "display_phone_number": config.display_phone_number,
            "verified_name": config.verified_name,
            "quality_rating": config.quality_rating,
            "throughput": {"level": "STANDARD" if config.throughput_per_second <= 80 else "HIGH"},
            "whatsapp_business_manager_messaging_limit": config.messaging_limit,
            "messaging_limit_tier": config.messaging_limit,
            "code_verification_status": "VERIFIED",
            "name_status": "APPROVED",
            "platform_type": "CLOUD_API",
            "status": "CONNECTED",
            "account_mode": "LIVE",
            "is_official_business_account": False,
        }
        fields = _fields(request, tuple(values), "WhatsAppBusinessPhoneNumber")
        return 200, _select(values, fields or PHONE_DEFAULT_FIELDS)
    if node_id == config.waba_id:
        values = {
            "id": config.waba_id,
            "name": config.verified_name,
            "currency": "IDR",
            "timezone_id": "52",
            "message_template_namespace": hashlib.md5(config.waba_id.encode()).hexdigest(),
        }
        fields = _fields(request, tuple(values), "WhatsAppBusinessAccount")
        return 200, _select(values, fields or WABA_DEFAULT_FIELDS)
    template = state.templates.by_id(node_id)
    if template is not None:
        fields = _fields(request, TEMPLATE_FIELDS, "WhatsAppBusinessHSM")
        return 200, template.to_graph(fields or DEFAULT_FIELDS)
    raise unsupported_request("GET", node_id)


def _select(values: dict[str, Any], fields: tuple[str, ...] | list[str]) -> dict[str, Any]:
    chosen = {name: values[name] for name in fields}
    chosen["id"] = values["id"]
    return chosen


@graph_endpoint
async def list_templates(request: web.Request, state: SandboxState) -> tuple[int, dict[str, Any]]:
    _require_node(state, request.match_info["node_id"], state.config.waba_id, "GET")
    query = request.query
    fields = _fields(request, TEMPLATE_FIELDS, "WhatsAppBusinessHSM") or list(DEFAULT_FIELDS)
    limit = _limit(query.get("limit"))
    after = _cursor(query.get("after"), "after")
    before = _cursor(query.get("before"), "before")
    page = state.templates.page(limit=limit, after=after, before=before, keep=_filter(query))
    if not page.templates:
        return 200, {"data": [], "paging": {"cursors": {}}}
    first, last = (
        encode_cursor(int(page.templates[0].id)),
        encode_cursor(int(page.templates[-1].id)),
    )
    paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
    base = {key: value for key, value in query.items() if key not in ("after", "before")}
    if page.has_after:
        paging["next"] = str(request.url.with_query({**base, "after": last}))
    if page.has_before:
        paging["previous"] = str(request.url.with_query({**base, "before": first}))
    return 200, {
        "data": [template.to_graph(fields) for template in page.templates],
        "paging": paging,
    }


def _limit(raw: str | None) -> int:
    if raw is None:
        return 25
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_TEMPLATE_PAGE:
        raise invalid_parameter(f"Param limit must be an integer from 1 to {MAX_TEMPLATE_PAGE}.")
    return int(raw)


def _cursor(raw: str | None, name: str) -> int | None:
    if raw is None:
        return None
    position = decode_cursor(raw)
    if position is None:
        raise invalid_parameter(f"Param {name} is not a valid cursor.")
    return position


def _filter(query: Any) -> Callable[[Template], bool] | None:
    statuses = {s.strip().upper() for s in query.get("status", "").split(",") if s.strip()}
    categories = {c.strip().upper() for c in query.get("category", "").split(",") if c.strip()}
    language = query.get("language")
    name = query.get("name")
    if not (statuses or categories or language or name):
        return None

    def keep(template: Template) -> bool:
        return (
            (not statuses or template.status in statuses)
            and (not categories or template.category in categories)
            and (not language or template.language == language)
            and (not name or name in template.name)
        )

    return keep


@graph_endpoint
async def unknown_edge(request: web.Request, state: SandboxState) -> tuple[int, dict[str, Any]]:
    raise unknown_path(request.path)


def add_graph_routes(app: web.Application) -> None:
    app.router.add_post("/{version}/{node_id}/messages", send_message)
    app.router.add_post("/{version}/{node_id}/media", upload_media)
    app.router.add_get("/{version}/{node_id}/message_templates", list_templates)
    app.router.add_get("/{version}/{node_id}", get_node)
    app.router.add_route("*", "/{version}/{node_id}/{edge:.+}", unknown_edge)
