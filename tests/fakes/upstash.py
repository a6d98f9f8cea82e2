"""A local server speaking Upstash's REST protocol in front of a real Redis.

The real `upstash-redis` client talks to it: `POST /` with one JSON command array,
`/pipeline` and `/multi-exec` with a list of them, a Bearer token, and
`Upstash-Encoding: base64` (every string in a result base64-encoded). Results come back
in RESP2 shapes, since the client cannot read floats or maps.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def _argument(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value


def _encode(value: Any, *, base64_strings: bool) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode() if base64_strings else value.decode()
    if isinstance(value, str):
        return base64.b64encode(value.encode()).decode() if base64_strings else value
    if isinstance(value, float):
        return _encode(repr(value), base64_strings=base64_strings)
    if isinstance(value, list | tuple):
        return [_encode(item, base64_strings=base64_strings) for item in value]
    return value


def _wire_error(exc: redis_errors.ResponseError) -> str:
    """The error as Redis sends it: redis-py strips the NOSCRIPT code, Upstash keeps it."""
    if isinstance(exc, redis_errors.NoScriptError):
        return f"NOSCRIPT {exc}"
    return str(exc)


def create_upstash_app(redis_url: str, token: str) -> Starlette:
    state: dict[str, aioredis.Redis] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = aioredis.Redis.from_url(redis_url, protocol=2)
        client.response_callbacks.clear()  # raw replies, as Upstash's server sends them
        state["redis"] = client
        yield
        await client.aclose()

    def authorised(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {token}"

    async def single(request: Request) -> JSONResponse:
        if not authorised(request):
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        encode = request.headers.get("upstash-encoding") == "base64"
        command = await request.json()
        try:
            reply = await state["redis"].execute_command(*map(_argument, command))
        except redis_errors.ResponseError as exc:
            return JSONResponse({"error": _wire_error(exc)}, status_code=400)
        return JSONResponse({"result": _encode(reply, base64_strings=encode)})

    async def batch(request: Request, *, transaction: bool) -> JSONResponse:
        if not authorised(request):
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        encode = request.headers.get("upstash-encoding") == "base64"
        pipe = state["redis"].pipeline(transaction=transaction)
        for command in await request.json():
            pipe.execute_command(*map(_argument, command))
        replies = await pipe.execute(raise_on_error=False)
        return JSONResponse(
            [
                {"error": _wire_error(reply)}
                if isinstance(reply, redis_errors.ResponseError)
                else {"result": _encode(reply, base64_strings=encode)}
                for reply in replies
            ]
        )

    async def pipeline(request: Request) -> JSONResponse:
        return await batch(request, transaction=False)

    async def multi_exec(request: Request) -> JSONResponse:
        return await batch(request, transaction=True)

    return Starlette(
        routes=[
            Route("/", single, methods=["POST"]),
            Route("/pipeline", pipeline, methods=["POST"]),
            Route("/multi-exec", multi_exec, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
