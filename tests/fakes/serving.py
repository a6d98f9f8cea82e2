"""Serve an ASGI app on a free loopback port for the length of an `async with`.

uvicorn runs as a task in the test's own event loop, so a test can reach the app over
real HTTP (PyGithub, githubkit, upstash-redis) without a second process.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def serve(
    app: ASGIApp, *, lifespan: str = "on", ws: str = "none", **options: object
) -> AsyncIterator[str]:
    """Yield the base URL (`http://127.0.0.1:PORT`) while uvicorn serves `app`; `ws` is
    uvicorn's websocket implementation (`auto` as `hubbub serve` has it), without
    per-message deflate as there; `options`, any other of uvicorn's settings."""
    sock = socket.socket()
    # Without it, small request/response pairs wait on Nagle's algorithm (~40 ms each).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan=lifespan,
        ws=ws,
        ws_per_message_deflate=False,
        interface="asgi3",
        # A connection a test left open must not hold the shutdown (and the suite) forever.
        timeout_graceful_shutdown=5,
        **{"log_level": "warning", "access_log": False, **options},  # type: ignore[arg-type]
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
