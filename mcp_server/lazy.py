"""/mcp, built on its first request.

The SDK and what it brings (pydantic models, JSON Schema, OpenTelemetry, a second HTTP
client) cost the persistent server about 35 MB and 0.4 s at start-up; a deployment whose
clients never speak MCP should not carry them. So the endpoint is an ASGI app that builds
the server, starts its session manager in a task of its own (the SDK's task group must be
entered and left by one task), and from then on hands every request to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from mcp_server.server import HubbubMCP


class LazyMCP:
    def __init__(self, build: Callable[[], tuple[HubbubMCP, ASGIApp]]) -> None:
        """`build` makes the server and its HTTP app (imports included)."""
        self._build = build
        self._app: ASGIApp | None = None
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self.server: HubbubMCP | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app or await self._start()
        await app(scope, receive, send)

    async def _start(self) -> ASGIApp:
        async with self._lock:
            if self._app is None:
                server, app = self._build()
                ready = asyncio.Event()
                self._runner = asyncio.create_task(self._run(server, ready), name="mcp")
                waiting = asyncio.create_task(ready.wait())
                await asyncio.wait({waiting, self._runner}, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                if self._runner.done():
                    self._runner.result()  # it failed to start: say why, here
                self.server, self._app = server, app
        return self._app

    async def _run(self, server: HubbubMCP, ready: asyncio.Event) -> None:
        async with server.running():
            ready.set()
            await self._stop.wait()

    async def aclose(self) -> None:
        self._stop.set()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
