"""The REST backend: Upstash's HTTP API through `upstash_redis.asyncio`, for serverless.

Each call is one HTTPS request, so there is no subscribing here (SubscribingStore is not
implemented). The client's own retry sleeps 3 s and its HTTP client has no timeout, so
retries are off and every call is bounded by `timeout_ms`: a failing Redis fails fast.

Commands and reply shapes are CommandStore's, shared with the native backend; this module
only carries commands over HTTP and maps the client's errors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx

from shared.errors import StoreError, StoreUnavailable
from shared.store.commands import CommandStore, refusal
from shared.store.protocol import Command

try:
    from upstash_redis.asyncio import Redis as UpstashRedis
    from upstash_redis.errors import UpstashError
except ImportError as exc:  # pragma: no cover - upstash-redis is a runtime dependency
    raise ImportError("the REST store needs upstash-redis: pip install upstash-redis") from exc

MAX_REQUESTS = 20  # httpx's default max_keepalive_connections


def _wire(command: Command) -> list[str | int]:
    """The command as JSON can carry it.

    The name goes lower-case: upstash-redis reshapes replies to upper-case command names
    (SET -> bool, HGETALL -> dict, ...), and CommandStore wants Redis's own replies, as the
    native backend gives them. Floats go as Redis spells them (JSON has no `inf`).
    """
    name, *args = command
    return [str(name).lower(), *(repr(arg) if isinstance(arg, float) else arg for arg in args)]


class RestStore(CommandStore):
    def __init__(self, url: str, token: str, *, timeout_ms: int) -> None:
        self.client = UpstashRedis(
            url,
            token,
            rest_encoding="base64",
            rest_retries=0,
            allow_telemetry=False,
            read_your_writes=True,
        )
        self.timeout_s = timeout_ms / 1000
        # Like the native pool, a burst queues for a slot, for at most the timeout. Its size
        # is the connections upstash-redis's httpx client keeps alive: more requests at once
        # would open TLS connections only to close them again.
        self._slots = asyncio.Semaphore(MAX_REQUESTS)

    async def _call(self, command: Command) -> Any:
        async with self._request():
            return await self.client.execute(_wire(command))

    async def _pipeline(self, commands: Sequence[Command]) -> list[Any]:
        pipe = self.client.pipeline()
        for command in commands:
            pipe.execute(_wire(command))
        async with self._request():
            try:
                return await pipe.exec()
            except (AttributeError, TypeError) as exc:
                # upstash-redis cannot read an error answered for the whole pipeline (a bad
                # token): it iterates the {"error": ...} object as if it were the result list.
                raise StoreError("the Upstash REST API refused the pipeline") from exc

    @asynccontextmanager
    async def _request(self) -> AsyncIterator[None]:
        """One request: a slot, then the call, each within the timeout; errors as the Store's."""
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._slots.acquire()
            try:
                async with asyncio.timeout(self.timeout_s):
                    yield
            finally:
                self._slots.release()
        except UpstashError as exc:
            raise refusal(str(exc)) from exc
        except (httpx.HTTPError, OSError, json.JSONDecodeError) as exc:
            # OSError covers the timeouts; a body that is not JSON is a gateway's error page.
            raise StoreUnavailable("the Upstash REST API is unreachable") from exc

    async def aclose(self) -> None:
        await self.client.close()
