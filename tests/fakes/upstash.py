"""A local server speaking Upstash's REST protocol in front of a real Redis.

The real `upstash-redis` client talks to it, so the REST backend is tested through the
client it ships with: `POST /` with one JSON command array, `/pipeline` and `/multi-exec`
with a list of them, a Bearer token, and `Upstash-Encoding: base64` (every string in a
result base64-encoded). Results come back in RESP2 shapes, since the client cannot read
floats or maps, and errors as Redis words them (`ERR ...`, `NOSCRIPT ...`).
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

# redis-py strips these codes from the messages of the exceptions it raises for them.
_STRIPPED_CODES: dict[type[redis_errors.ResponseError], str] = {
    redis_errors.NoScriptError: "NOSCRIPT",
    redis_errors.ExecAbortError: "EXECABORT",
    redis_errors.ReadOnlyError: "READONLY",
    redis_errors.NoPermissionError: "NOPERM",
}


def _wire_error(exc: redis_errors.ResponseError) -> str:
    """The error as Redis sent it: redis-py drops codes such as ERR or NOSCRIPT, Upstash not."""
    text = str(exc)
    code = _STRIPPED_CODES.get(type(exc))
    if code is None and text.split(" ", 1)[0].isupper():
        return text  # a code redis-py leaves in place, such as WRONGTYPE
    return f"{code or 'ERR'} {text}"


def _argument(value: Any) -> Any:
    """JSON booleans reach Redis as 1/0, as Upstash sends them."""
    return int(value) if isinstance(value, bool) else value


def _encode(value: Any, *, base64_strings: bool) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode() if base64_strings else value.decode()
    if isinstance(value, list | tuple):
        return [_encode(item, base64_strings=base64_strings) for item in value]
    return value  # int or None: RESP2 has nothing else once strings are bytes


def _is_command(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], str)


def create_upstash_app(redis_url: str, token: str) -> Starlette:
    """The fake; `app.state.requests` records each HTTP request's command names, so tests
    count round trips as Upstash would bill them."""
    state: dict[str, aioredis.Redis] = {}
    requests: list[list[str]] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # A burst of requests queues for a Redis connection instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(redis_url, protocol=2, max_connections=64)
        client = aioredis.Redis.from_pool(pool)
        client.response_callbacks.clear()  # raw replies, as Upstash's server sends them
        state["redis"] = client
        yield
        await client.aclose()

    def refuse(request: Request) -> JSONResponse | None:
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        return None

    async def body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    async def single(request: Request) -> JSONResponse:
        if refused := refuse(request):
            return refused
        command = await body(request)
        requests.append([str(command[0]).upper()] if _is_command(command) else [])
        if not _is_command(command):
            return JSONResponse({"error": "ERR the body must be a command array"}, status_code=400)
        try:
            reply = await state["redis"].execute_command(*map(_argument, command))
        except redis_errors.ResponseError as exc:
            return JSONResponse({"error": _wire_error(exc)}, status_code=400)
        encode = request.headers.get("upstash-encoding") == "base64"
        return JSONResponse({"result": _encode(reply, base64_strings=encode)})

    async def batch(request: Request, *, transaction: bool) -> JSONResponse:
        if refused := refuse(request):
            return refused
        commands = await body(request)
        requests.append(
            [str(c[0]).upper() for c in commands if _is_command(c)]
            if isinstance(commands, list)
            else []
        )
        if not isinstance(commands, list) or not all(map(_is_command, commands)):
            return JSONResponse(
                {"error": "ERR the body must be a list of commands"}, status_code=400
            )
        pipe = state["redis"].pipeline(transaction=transaction)
        for command in commands:
            pipe.execute_command(*map(_argument, command))
        replies = await pipe.execute(raise_on_error=False)
        encode = request.headers.get("upstash-encoding") == "base64"
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

    app = Starlette(
        routes=[
            Route("/", single, methods=["POST"]),
            Route("/pipeline", pipeline, methods=["POST"]),
            Route("/multi-exec", multi_exec, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.requests = requests
    return app
