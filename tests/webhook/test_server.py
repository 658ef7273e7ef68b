"""The server itself: health check, OpenAPI, and the one error shape."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from core.bootstrap import Siaran
from core.db import make_engine
from core.settings import Settings
from webhook.server import create_app, siaran_version


def _app_over(url: str, tmp_path: Path) -> FastAPI:
    settings = Settings(env="test", data_dir=tmp_path / "data", database_url=url)
    return create_app(Siaran(settings=settings, engine=make_engine(url)))


def test_healthz_reports_ok_with_version(api: httpx.Client) -> None:
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": siaran_version()}


def test_healthz_is_503_when_postgres_is_unreachable(
    serve: Callable[[FastAPI], str], tmp_path: Path
) -> None:
    # Port 1 on loopback refuses connections at once.
    url = serve(_app_over("postgresql+psycopg://postgres@127.0.0.1:1/siaran", tmp_path))
    response = httpx.get(f"{url}/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "unreachable"
    assert "127.0.0.1" not in response.text  # where the database lives is for the log only


def test_api_calls_are_503_with_an_id_when_the_database_is_unreachable(
    serve: Callable[[FastAPI], str], tmp_path: Path
) -> None:
    url = serve(_app_over("postgresql+psycopg://postgres@127.0.0.1:1/siaran", tmp_path))
    response = httpx.get(f"{url}/api/me", headers={"Authorization": "Bearer sk_siaran_x"})
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert re.fullmatch(
        r"The database is unavailable; try again shortly \(id [0-9a-f]{12}\)\.", detail
    )


def test_healthz_is_503_when_sqlite_cannot_be_opened(
    serve: Callable[[FastAPI], str], tmp_path: Path
) -> None:
    folder = tmp_path / "a-folder-not-a-file"
    folder.mkdir()
    url = serve(_app_over(f"sqlite:///{folder}", tmp_path))
    response = httpx.get(f"{url}/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_healthz_is_503_when_the_database_is_not_migrated(
    serve: Callable[[FastAPI], str], tmp_path: Path
) -> None:
    url = serve(_app_over(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path))
    response = httpx.get(f"{url}/healthz")
    assert response.status_code == 503
    assert "siaran db upgrade" in response.json()["database"]


def test_openapi_schema_and_docs_are_served(api: httpx.Client) -> None:
    schema = api.get("/api/openapi.json")
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["info"]["title"] == "Siaran API"
    for path in ("/api/auth/login", "/api/me", "/api/profiles", "/api/contacts", "/api/stats"):
        assert path in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    # Errors are documented with our shape, not FastAPI's default validation schema.
    login_422 = spec["paths"]["/api/auth/login"]["post"]["responses"]["422"]
    assert login_422["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    docs = api.get("/api/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_unknown_path_is_404_in_the_error_shape(api: httpx.Client) -> None:
    response = api.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_malformed_json_is_a_readable_422(api: httpx.Client) -> None:
    response = api.post(
        "/api/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]


def test_unexpected_error_is_500_with_an_id_and_no_traceback(
    siaran: Siaran, serve: Callable[[FastAPI], str], caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(siaran)

    def explode() -> None:
        raise RuntimeError("password=hunter2 leaked from deep inside")

    app.add_api_route("/api/explode", explode)
    url = serve(app)
    with caplog.at_level(logging.ERROR, logger="siaran.api"):
        response = httpx.get(f"{url}/api/explode")
    assert response.status_code == 500
    detail = response.json()["detail"]
    match = re.fullmatch(r"Internal error; see server log \(id ([0-9a-f]{12})\)\.", detail)
    assert match, detail
    assert "hunter2" not in response.text and "Traceback" not in response.text
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
