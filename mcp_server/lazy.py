"""/mcp, built on its first request.

The SDK and what it brings (pydantic models, JSON Schema, a second HTTP client) cost the
persistent server about 35 MB and 0.4 s at start-up; a deployment whose clients never
speak MCP should not carry them. So the endpoint is an ASGI app that, on the first
request, imports the server in a thread (the event loop keeps serving everyone else),
builds it, starts its session manager in a task of its own (the SDK's task group must be
entered and left by one task), and from then on hands every request to it. Requests that
arrive meanwhile wait for the same start.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from mcp_server.server import HubbubMCP

log = logging.getLogger("hubbub.mcp")

_UNAVAILABLE = JSONResponse(
    {"error": {"code": "mcp_unavailable", "message": "the MCP server is not running here"}},
    status_code=503,
)


class LazyMCP:
    def __init__(self, build: Callable[[], tuple[HubbubMCP, ASGIApp]]) -> None:
        """`build` makes the server and its HTTP app."""
        self._build = build
        self._app: ASGIApp | None = None
        self._starting: asyncio.Task[ASGIApp] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.server: HubbubMCP | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app
        if app is None:
            if self._stop.is_set():
                app = _UNAVAILABLE
            else:
                if self._starting is None:
                    self._starting = asyncio.create_task(self._start(), name="mcp-start")
                try:
                    # Shielded: one caller giving up does not stop the start for the rest.
                    app = await asyncio.shield(self._starting)
                except Exception:
                    log.exception("the MCP server could not start")
                    self._starting = None  # the next request tries again
                    app = _UNAVAILABLE
        await app(scope, receive, send)

    async def _start(self) -> ASGIApp:
        await asyncio.to_thread(importlib.import_module, "mcp_server.server")
        server, app = self._build()
        ready = asyncio.Event()
        runner = asyncio.create_task(self._run(server, ready), name="mcp")
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({waiting, runner}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if runner.done():
            runner.result()  # it failed to start: say why
            raise RuntimeError("the MCP server stopped as it started")
        runner.add_done_callback(self._ended)
        self._runner, self.server, self._app = runner, server, app
        return app

    async def _run(self, server: HubbubMCP, ready: asyncio.Event) -> None:
        async with server.running():
            ready.set()
            await self._stop.wait()

    def _ended(self, runner: asyncio.Task[None]) -> None:
        """The session manager stopped: answered plainly from now on, and said once."""
        self._app = _UNAVAILABLE
        if not runner.cancelled() and runner.exception() is not None:
            log.error("the MCP server stopped", exc_info=runner.exception())

    async def aclose(self) -> None:
        self._stop.set()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
