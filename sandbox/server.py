"""The sandbox server: ``create_app``, an in-process runner for tests, and the CLI entry.

``create_app(config)`` builds the aiohttp application: Graph paths at the root, the control
API under ``/_sandbox``. ``ThreadedServer`` runs any aiohttp app on its own event loop in a
background thread (tests use it for the sandbox and for webhook receivers);
``SandboxServer`` is that for the sandbox. ``serve`` runs it in the foreground until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from types import TracebackType

from aiohttp import web

from sandbox.config import SandboxConfig
from sandbox.control_routes import control_app
from sandbox.graph_routes import add_graph_routes
from sandbox.state import STATE, SandboxState


def create_app(config: SandboxConfig | None = None) -> web.Application:
    """The sandbox as an aiohttp application (its state lives in ``app[STATE]``)."""
    app = web.Application()
    state = SandboxState(config or SandboxConfig())
    app[STATE] = state
    # The control API first: its paths would otherwise match /{version}/{node_id}/{edge}.
    app.add_subapp("/_sandbox", control_app())
    add_graph_routes(app)

    async def start_emitter(_: web.Application) -> None:
        await state.emitter.start()

    async def stop_emitter(_: web.Application) -> None:
        await state.emitter.close()

    app.on_startup.append(start_emitter)
    app.on_cleanup.append(stop_emitter)
    return app


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (faster), else asyncio's default loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class ThreadedServer:
    """An aiohttp app served on 127.0.0.1 from a background thread; ``start()`` returns its URL."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self._run, name="sandbox-server", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise RuntimeError(f"the server did not start: {self._error}") from self._error
        if not self._ready.is_set():
            raise RuntimeError("the server did not start within 30 s")
        return self.url

    def _run(self) -> None:
        loop = self._loop = new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(), or lost at shutdown
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self.port = runner.addresses[0][1]
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def stop(self) -> None:
        if self._loop is None or self._stop is None or self._thread is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already closed
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def __enter__(self) -> ThreadedServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SandboxServer(ThreadedServer):
    """The sandbox in a background thread: ``with SandboxServer(config) as sandbox: ...``."""

    def __init__(
        self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__(create_app(config), host, port)

    @property
    def state(self) -> SandboxState:
        return self.app[STATE]


def serve(config: SandboxConfig, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Run the sandbox in the foreground until interrupted."""
    web.run_app(
        create_app(config),
        host=host,
        port=port,
        access_log=None,
        print=lambda _: announce(f"WhatsApp sandbox listening on http://{host}:{port}"),
        loop=new_event_loop(),
    )
