"""The HTTP server: the REST API under ``/api``, ``/healthz``, and Meta's webhooks (``/webhook``).

``create_app()`` builds the FastAPI application without touching anything: the composition
root is created on startup, or handed in by tests. ``serve()`` runs it under uvicorn and is
what ``siaran serve-api`` calls.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.bootstrap import Siaran, bootstrap
from webhook.api import ROUTERS
from webhook.deps import App
from webhook.errors import install_error_handling
from webhook.meta import WebhookFastPath, webhook_lifespan
from webhook.meta import router as meta_webhooks
from webhook.schemas import ERROR_RESPONSES

log = logging.getLogger("siaran.api")

DESCRIPTION = """\
Siaran's REST API. Sign in with `POST /api/auth/login`, then send the token as
`Authorization: Bearer <token>`. Errors are `{"detail": "..."}` (plus `errors` per field on
422). What each call may do depends on your role (owner, supervisor, agent).
"""


def siaran_version() -> str:
    try:
        return version("siaran")
    except PackageNotFoundError:
        return "0+unknown"


def create_app(siaran: Siaran | None = None) -> FastAPI:
    """The application; ``siaran`` is built from the environment on startup when not given."""
    app = FastAPI(
        title="Siaran API",
        version=siaran_version(),
        description=DESCRIPTION,
        docs_url="/api/docs",
        redoc_url="/api/redoc",
        openapi_url="/api/openapi.json",
        lifespan=_lifespan(siaran),
        # Siaran configures no OpenTelemetry; FastAPI's per-request look for global providers
        # costs about 50 µs, a fifth of a webhook POST.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    if siaran is not None:
        app.state.siaran = siaran
    install_error_handling(app)
    app.add_middleware(WebhookFastPath)
    app.add_api_route(
        "/healthz",
        healthz,
        methods=["GET"],
        tags=["health"],
        response_model=Health,
        summary="Is the server up and its database reachable and migrated?",
        responses={503: {"model": Health, "description": "A part is failing"}},
    )
    # Meta's callback, outside /api; first, so its many POSTs match the first route tried.
    app.include_router(meta_webhooks)
    for router in ROUTERS:
        app.include_router(router, responses=ERROR_RESPONSES)
    return app


def _lifespan(
    given: Siaran | None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if given is not None:
            app.state.siaran = given
            async with webhook_lifespan(app):
                yield
            return
        app.state.siaran = bootstrap()
        try:
            async with webhook_lifespan(app):
                yield
        finally:
            app.state.siaran.engine.dispose()

    return lifespan


class Health(BaseModel):
    status: str
    database: str
    version: str


def healthz(siaran: App) -> JSONResponse:
    """200 when the database answers and its schema is current, else 503 naming the problem."""
    problem = database_problem(siaran.engine)
    health = Health(
        status="ok" if problem is None else "error",
        database=problem or "ok",
        version=siaran_version(),
    )
    return JSONResponse(health.model_dump(), status_code=200 if problem is None else 503)


def database_problem(engine: Engine) -> str | None:
    """What is wrong with the database, or None: one cheap query on Alembic's version table."""
    from sql.migrate import current_revision

    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        # The full error may name hosts; it goes to the log, not to an anonymous caller.
        log.warning("Health check: database unreachable: %s", exc)
        return "unreachable"
    head = _head_revision()
    if current is None:
        return "not migrated; run `siaran db upgrade`"
    if current != head:
        return f"schema at revision {current}, expected {head}; run `siaran db upgrade`"
    return None


@cache
def _head_revision() -> str:
    from sql.migrate import head_revision

    return head_revision()


def log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's logging, plus Siaran's own loggers on the same handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["siaran"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def serve(
    siaran: Siaran | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
) -> None:
    """Run the server in the foreground until interrupted."""
    import uvicorn

    siaran = siaran or bootstrap()
    uvicorn.run(
        create_app(siaran),
        host=host or siaran.settings.api_host,
        port=port or siaran.settings.api_port,
        log_level=log_level,
        log_config=log_config(log_level),
    )


def main() -> None:
    """``python -m webhook.server``: the same as ``siaran serve-api``."""
    from cli.serve import serve_api

    serve_api()


if __name__ == "__main__":
    main()
