"""How the HTTP server says no: one JSON shape for every error, mapped in one place.

Every error body is ``{"detail": "<one readable sentence>"}``; invalid input adds
``"errors": [{"field": ..., "message": ...}, ...]``.

SiaranError (core.errors)      -> its ``status_code``; 401 adds ``WWW-Authenticate: Bearer``
RequestValidationError         -> 422 naming each offending field
OperationalError (SQLAlchemy)  -> 503 "database unavailable", logged with an id
anything else                  -> 500 "Internal error; see server log (id ...)", logged
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import InvalidInput, SiaranError

log = logging.getLogger("siaran.api")


def install_error_handling(app: FastAPI) -> None:
    app.add_exception_handler(SiaranError, _siaran_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _database_unavailable)  # type: ignore[arg-type]
    app.add_middleware(InternalErrorMiddleware)


def error_response(
    status_code: int, detail: str, errors: list[dict[str, Any]] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    headers = {}
    if status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status_code, headers=headers)


async def _siaran_error(request: Request, exc: SiaranError) -> JSONResponse:
    # Refusals are expected, not faults; kept at INFO so repeated failed sign-ins show up.
    log.info("%s %s -> %s: %s", request.method, request.url.path, exc.status_code, exc)
    errors = exc.errors if isinstance(exc, InvalidInput) else None
    return error_response(exc.status_code, exc.message, errors)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [_describe(error) for error in exc.errors()]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return error_response(422, f"Invalid request: {summary}", errors)


async def _database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
    error_id = _new_error_id()
    log.error("Database unavailable (id %s) on %s %s: %s", error_id, request.method,
              request.url.path, exc)  # fmt: skip
    return error_response(503, f"The database is unavailable; try again shortly (id {error_id}).")


def _describe(error: dict[str, Any]) -> dict[str, str]:
    """A pydantic error as ``{"field", "location", "message"}``, never echoing the input."""
    location, field = _split_location(error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error")
        message = f"not valid JSON ({reason})" if reason else "not valid JSON"
    # Custom validators raise ValueError; pydantic prefixes their text with this.
    message = message.removeprefix("Value error, ")
    return {"field": field, "location": location, "message": message}


def _split_location(loc: Sequence[Any]) -> tuple[str, str]:
    parts = [str(p) for p in loc]
    if not parts:
        return "request", "request"
    location, rest = parts[0], parts[1:]
    if location not in ("body", "query", "path", "header", "cookie"):
        return "body", ".".join(parts)
    return location, ".".join(rest) or location


def _new_error_id() -> str:
    return uuid.uuid4().hex[:12]


class InternalErrorMiddleware:
    """Turns an unexpected exception into a 500 with an id, logged once with its traceback.

    Starlette's own catch-all re-raises after answering, which logs every traceback twice;
    catching here, inside it, keeps one log entry that the id in the response points to.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            error_id = _new_error_id()
            log.exception(
                "Internal error (id %s) on %s %s", error_id, scope.get("method"), scope.get("path")
            )
            if started:
                # Too late for a clean answer; the server drops the connection.
                raise
            response = error_response(500, f"Internal error; see server log (id {error_id}).")
            await response(scope, receive, send)
