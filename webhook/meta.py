"""Meta's webhook callback at ``/webhook`` (outside ``/api``): the handshake and the events.

``GET /webhook``   Meta's verification: ``hub.mode=subscribe``, ``hub.verify_token`` (one
                   of the connected accounts' verify tokens) and ``hub.challenge``, which
                   is answered as plain text; 403 for a wrong token.
``POST /webhook``  413 past ``MAX_BODY_BYTES``; 401 without ``X-Hub-Signature-256``, 403
                   with a wrong one (counted; nothing stored); 400 for a body that is not a
                   JSON object; else stored (``core.webhooks``) and answered 200 as soon as
                   it is committed, before it is processed. 503 if the database cannot
                   store it: Meta delivers it again.

Thin on purpose: every rule lives in ``core.webhooks``. ``create_app`` serves the POST
through ``WebhookFastPath``, an ASGI shortcut past FastAPI's routing (the same handler).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from core.webhooks import (
    MAX_BODY_BYTES,
    BodyRefused,
    CredentialCache,
    Rejection,
    WebhookReceiver,
    check_signature,
    read_body,
)
from core.webhooks.signature import SIGNATURE_HEADER, verify_token_matches

log = logging.getLogger("siaran.webhooks")
router = APIRouter(tags=["Meta webhooks"])
#: Bodies larger than this are checked and parsed off the event loop.
_LARGE = 256 * 1024
#: Meta gives up on an answer after a while; a 503 sooner lets it retry.
STORE_TIMEOUT = 20.0

_REFUSALS = {
    Rejection.MISSING_SIGNATURE: (
        401,
        f"Missing {SIGNATURE_HEADER}: WhatsApp signs every webhook with the app secret.",
    ),
    Rejection.BAD_SIGNATURE: (
        403,
        f"{SIGNATURE_HEADER} does not match the body for any connected account's app secret.",
    ),
    Rejection.NO_ACCOUNT: (
        403,
        "No WhatsApp account is connected, so the webhook's signature cannot be checked.",
    ),
}


@dataclass
class WebhookState:
    receiver: WebhookReceiver
    credentials: CredentialCache


@asynccontextmanager
async def webhook_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the receiver's threads with the server; stop them (finishing the queue) after."""
    siaran = app.state.siaran
    receiver = WebhookReceiver(siaran)
    app.state.webhooks = WebhookState(receiver, CredentialCache(siaran))
    receiver.start()
    try:
        yield
    finally:
        await run_in_threadpool(receiver.stop)


def _state(request: Request) -> WebhookState:
    return request.app.state.webhooks


def _refuse(
    state: WebhookState, rejection: Rejection, status: int, detail: str
) -> tuple[int, dict[str, Any]]:
    state.receiver.count(f"rejected:{rejection.value}")
    log.warning("Webhook refused (%s): %s", rejection.value, detail)
    return status, {"detail": detail}


@router.get(
    "/webhook",
    response_class=PlainTextResponse,
    summary="Meta's verification handshake",
    responses={403: {"description": "The verify token does not match"}},
)
def verify_subscription(
    request: Request,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=1000)] = None,
) -> PlainTextResponse:
    """Answers ``hub.challenge`` when ``hub.verify_token`` is a connected account's token."""
    credentials = _state(request).credentials
    if mode != "subscribe" or not (
        verify_token_matches(verify_token, credentials.get().verify_tokens)
        or verify_token_matches(verify_token, credentials.get(max_age=1.0).verify_tokens)
    ):
        return PlainTextResponse("Verification failed: wrong hub.mode or hub.verify_token.", 403)
    if not challenge:
        return PlainTextResponse("hub.challenge is missing.", 400)
    return PlainTextResponse(challenge)


@router.post(
    "/webhook",
    summary="Meta's webhook events (signed)",
    responses={
        200: {"description": "Stored; processing follows"},
        400: {"description": "Not a JSON object"},
        401: {"description": "No signature"},
        403: {"description": "Wrong signature"},
        413: {"description": "Larger than a webhook can be"},
        503: {"description": "Could not be stored now; WhatsApp retries"},
    },
)
async def receive_events(request: Request) -> JSONResponse:
    """Served by ``WebhookFastPath`` in ``create_app``; this route documents it (and serves
    it in an app without that middleware)."""
    status, body = await answer_post(
        _state(request),
        request.headers.get(SIGNATURE_HEADER),
        request.headers.get("content-length"),
        request.stream(),
    )
    return JSONResponse(body, status_code=status)


async def answer_post(
    state: WebhookState,
    signature: str | None,
    declared_length: str | None,
    chunks: AsyncIterator[bytes],
) -> tuple[int, dict[str, Any]]:
    """The whole of a webhook POST: its status code and JSON body."""
    raw = await _read_limited(declared_length, chunks)
    if raw is None:
        detail = f"The body is larger than {MAX_BODY_BYTES:,} bytes; WhatsApp sends at most 3 MB."
        return _refuse(state, Rejection.TOO_LARGE, 413, detail)
    rejection = await _checked(state, signature, raw)
    if rejection is not None:
        status, detail = _REFUSALS[rejection]
        return _refuse(state, rejection, status, detail)
    try:
        body = await run_in_threadpool(read_body, raw) if len(raw) > _LARGE else read_body(raw)
    except BodyRefused as exc:
        return _refuse(state, Rejection.MALFORMED, 400, f"Malformed webhook: {exc}.")
    try:
        stored = await state.receiver.store_async(body, STORE_TIMEOUT)
    except Exception:
        detail = "The webhook could not be stored right now; WhatsApp delivers it again."
        return 503, {"detail": detail}
    return 200, {"stored": True, "duplicate": stored.duplicate}


async def _read_limited(declared: str | None, chunks: AsyncIterator[bytes]) -> bytes | None:
    """The raw body, or None as soon as it is known to exceed ``MAX_BODY_BYTES``."""
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    received = bytearray()
    async for chunk in chunks:
        received += chunk
        if len(received) > MAX_BODY_BYTES:
            return None
    return bytes(received)


class WebhookFastPath:
    """``POST /webhook`` straight to ``answer_post``, past FastAPI's routing.

    Meta may post thousands of single updates a second; FastAPI's routing, dependency and
    response machinery costs about three times the work of storing one, so the hottest
    path in Siaran takes this shortcut. Everything else passes through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or _path(scope) != "/webhook":
            await self.app(scope, receive, send)
            return
        headers = {name: value for name, value in scope["headers"] if name in _WANTED}
        signature = headers.get(b"x-hub-signature-256")
        length = headers.get(b"content-length")
        try:
            status, body = await answer_post(
                scope["app"].state.webhooks,
                None if signature is None else signature.decode("latin-1"),
                None if length is None else length.decode("latin-1"),
                _chunks(receive),
            )
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            log.exception("Internal error (id %s) on POST /webhook", error_id)
            status, body = 500, {"detail": f"Internal error; see server log (id {error_id})."}
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(payload)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


_WANTED = frozenset({b"x-hub-signature-256", b"content-length"})


def _path(scope: Scope) -> str:
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _checked(state: WebhookState, header: str | None, raw: bytes) -> Rejection | None:
    def check(max_age: float | None) -> Rejection | None:
        return check_signature(header, raw, state.credentials.get(max_age).app_secrets)

    cached = state.credentials.peek()
    if cached is not None and len(raw) <= _LARGE:
        rejection = check_signature(header, raw, cached.app_secrets)
    else:  # reading the accounts or hashing megabytes: off the event loop
        rejection = await run_in_threadpool(check, None)
    if rejection in (Rejection.BAD_SIGNATURE, Rejection.NO_ACCOUNT):
        # An account may have been connected or changed moments ago: look again (at most
        # once a second, so bad requests cannot make every call read the database).
        rejection = await run_in_threadpool(check, 1.0)
    return rejection
