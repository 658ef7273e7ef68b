"""Fixtures shared by the core tests that talk to a real Dagster webserver."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import dagster as dg
import pytest
import uvicorn


@pytest.fixture
def dagster_webserver() -> Iterator[tuple[str, dg.DagsterInstance]]:
    """A Dagster webserver over ``pipelines.definitions`` whose runs wait in the queue."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
    from dagster_webserver.webserver import DagsterWebserver

    queued = {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"}
    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(module_name="pipelines.definitions"),
        location_name="siaran",
    )
    with (
        dg.instance_for_test(overrides={"run_coordinator": queued}) as instance,
        WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as workspace,
    ):
        app = DagsterWebserver(workspace).create_asgi_app()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "webserver did not start"
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}", instance
        finally:
            server.should_exit = True
            thread.join(10)
            sock.close()
