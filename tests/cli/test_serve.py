"""``siaran serve-api`` starts the HTTP server and refuses bad configuration clearly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core.settings import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("SIARAN_")
    }
    env |= {"SIARAN_ENV": "test", "SIARAN_DATA_DIR": str(tmp_path / "data")} | extra
    return env


def test_serve_api_answers_healthz_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'siaran.db'}")
    subprocess.run(
        [sys.executable, "-m", "cli.main", "db", "upgrade"], env=env, cwd=PROJECT_ROOT, check=True
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve-api", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0].decode()
                assert time.monotonic() < deadline, "serve-api did not start in 30 s"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["database"] == "ok"
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=15)[0].decode()
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}/api/docs" in output


def test_serve_api_names_the_bad_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "serve-api", "--port", str(_free_port())],
        env=_env(tmp_path, DATABASE_URL="mysql://nope"),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
