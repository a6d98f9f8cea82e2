"""The native backend: `redis.asyncio` over the Redis protocol (Redis, Valkey, Upstash TCP).

It holds connections, so it can subscribe and block on streams: the persistent layer uses it.

This module also holds `CommandStore`, every Store method written once as a Redis command
plus the reshaping of its reply. The REST backend shares it, which is what keeps the
backends' answers identical: both transports hand it Redis's RESP2 replies untouched.

redis-py is imported on first use, so the REST backend (serverless) never loads it.
Connection errors and timeouts become StoreUnavailable here; messages never name the URL,
which may carry a password.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from shared.errors import StoreError, StoreUnavailable
from shared.store.protocol import Command
from shared.store.script import Script

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

# Connections (or HTTP requests) one store keeps busy at once; a burst beyond this queues
# for at most the store timeout instead of failing.
MAX_CONNECTIONS = 64
_BLOCK_LATENESS_S = 0.5


class ScriptMissing(StoreError):
    """EVALSHA named a script the server does not hold (NOSCRIPT); `eval_script` falls back."""

    def __init__(self) -> None:
        super().__init__("Redis does not hold the script")


def refusal(reply: str) -> StoreError:
    """The StoreError for an error reply, naming only Redis's error code: replies may echo data."""
    code = reply.split(" ", 1)[0]
    if code == "NOSCRIPT":
        return ScriptMissing()
    detail = f" ({code})" if code.isupper() else ""
    return StoreError(f"Redis refused a command{detail}")


def _flat(pairs: Iterable[tuple[Any, Any]]) -> list[Any]:
    return [item for pair in pairs for item in pair]


def _fields(flat: list[str]) -> dict[str, str]:
    """A RESP2 flat [field, value, ...] list as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _entries(reply: list[Any]) -> list[tuple[str, dict[str, str]]]:
    return [(entry_id, _fields(fields)) for entry_id, fields in reply]


class CommandStore(ABC):
    """Every Store method as one Redis command; a backend only carries commands to Redis.

    `_call` and `_pipeline` answer Redis's replies in RESP2 shapes (str, int, None, lists of
    those), raise StoreUnavailable when Redis cannot be reached, ScriptMissing on NOSCRIPT and
    StoreError on any other error reply.
    """

    @abstractmethod
    async def _call(self, command: Command) -> Any: ...

    @abstractmethod
    async def _pipeline(self, commands: Sequence[Command]) -> list[Any]: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    async def get(self, key: str) -> str | None:
        return await self._call(("GET", key))

    async def mget(self, keys: Sequence[str]) -> list[str | None]:
        return await self._call(("MGET", *keys)) if keys else []

    async def set(self, key: str, value: str, *, px: int | None = None, nx: bool = False) -> bool:
        command: list[str | int] = ["SET", key, value]
        if px is not None:
            command += ["PX", px]
        if nx:
            command.append("NX")
        return await self._call(command) is not None  # "OK", or nil when NX found the key

    async def delete(self, *keys: str) -> int:
        return await self._call(("DEL", *keys)) if keys else 0

    async def incr(self, key: str) -> int:
        return await self._call(("INCR", key))

    async def pexpire(self, key: str, ms: int) -> bool:
        return await self._call(("PEXPIRE", key, ms)) == 1

    async def pttl(self, key: str) -> int:
        return await self._call(("PTTL", key))

    async def hset(self, key: str, mapping: Mapping[str, str]) -> int:
        return await self._call(("HSET", key, *_flat(mapping.items())))

    async def hgetall(self, key: str) -> dict[str, str]:
        return _fields(await self._call(("HGETALL", key)))

    async def hdel(self, key: str, *fields: str) -> int:
        return await self._call(("HDEL", key, *fields))

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> int:
        return await self._call(("ZADD", key, *_flat((s, m) for m, s in mapping.items())))

    async def zrangebyscore(
        self, key: str, minimum: float | str, maximum: float | str
    ) -> list[str]:
        return await self._call(("ZRANGEBYSCORE", key, minimum, maximum))

    async def zrem(self, key: str, *members: str) -> int:
        return await self._call(("ZREM", key, *members))

    async def xadd(self, key: str, fields: Mapping[str, str], *, maxlen: int | None = None) -> str:
        command: list[str | int] = ["XADD", key]
        if maxlen is not None:
            command += ["MAXLEN", "~", maxlen]
        command += ["*", *_flat(fields.items())]
        return await self._call(command)

    async def xrange(
        self, key: str, start: str = "-", end: str = "+", count: int | None = None
    ) -> list[tuple[str, dict[str, str]]]:
        command: list[str | int] = ["XRANGE", key, start, end]
        if count is not None:
            command += ["COUNT", count]
        return _entries(await self._call(command))

    async def publish(self, channel: str, message: str) -> int:
        return await self._call(("PUBLISH", channel, message))

    async def eval_script(
        self, script: Script, keys: Sequence[str], args: Sequence[str | int | float]
    ) -> Any:
        try:
            return await self._call(("EVALSHA", script.sha, len(keys), *keys, *args))
        except ScriptMissing:
            # EVAL runs the script and leaves it cached for the next EVALSHA.
            return await self._call(("EVAL", script.source, len(keys), *keys, *args))

    async def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        return await self._pipeline(commands) if commands else []

    async def ping(self) -> bool:
        return await self._call(("PING",)) == "PONG"


@cache
def _redis() -> ModuleType:
    try:
        import redis.asyncio
    except ImportError as exc:  # pragma: no cover - redis is a runtime dependency
        raise ImportError("the native store needs redis-py: pip install 'redis[hiredis]'") from exc
    return redis


@contextmanager
def _translated() -> Iterator[None]:
    """redis-py's exceptions (and timeouts) as the Store's."""
    errors = _redis().exceptions
    try:
        yield
    except errors.NoScriptError as exc:
        raise ScriptMissing() from exc
    except errors.AuthenticationError as exc:  # a ConnectionError, but a configuration mistake
        raise StoreError("Redis refused the credentials") from exc
    except (errors.ConnectionError, errors.TimeoutError, OSError) as exc:
        raise StoreUnavailable("Redis is unreachable") from exc
    except errors.RedisError as exc:
        raise refusal(str(exc)) from exc


class NativeStore(CommandStore):
    """A Store over redis-py clients that speak RESP2 and decode replies (`from_url` builds them).

    The store owns its clients: it reads their replies raw (response callbacks cleared) and
    closes them. `waiting_client` serves blocking stream reads, which outlast the read
    timeout `client` should have; it defaults to `client`.
    """

    def __init__(
        self, client: Redis, *, timeout_ms: int = 1000, waiting_client: Redis | None = None
    ) -> None:
        self.client = client
        self.waiting_client = client if waiting_client is None else waiting_client
        self.timeout_s = timeout_ms / 1000
        for each in (self.client, self.waiting_client):
            options = each.get_connection_kwargs()
            if options.get("protocol") not in (2, "2") or not options.get("decode_responses"):
                raise ValueError("NativeStore needs clients with protocol=2, decode_responses=True")
            each.response_callbacks.clear()

    @classmethod
    def from_url(cls, url: str, *, timeout_ms: int) -> NativeStore:
        redis = _redis()
        timeout_s = timeout_ms / 1000

        def client(read_timeout_s: float | None) -> Redis:
            # Waiting for a free connection is bounded too: a burst queues, then fails.
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                url,
                max_connections=MAX_CONNECTIONS,
                timeout=timeout_s,
                protocol=2,
                decode_responses=True,
                socket_timeout=read_timeout_s,
                socket_connect_timeout=timeout_s,
                health_check_interval=30,
            )
            return redis.asyncio.Redis.from_pool(pool)

        return cls(client(timeout_s), timeout_ms=timeout_ms, waiting_client=client(None))

    async def _call(self, command: Command) -> Any:
        with _translated():
            return await self.client.execute_command(*command)

    async def _pipeline(self, commands: Sequence[Command]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        with _translated():
            return await pipe.execute()

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.waiting_client is not self.client:
            await self.waiting_client.aclose()

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[AsyncIterator[tuple[str, str]]]:
        """Entered once Redis confirmed every channel, left once it confirmed leaving them:
        whatever is published in between is delivered, and nothing after."""
        pubsub = self.client.pubsub()
        try:
            with _translated():
                await pubsub.subscribe(*channels)
            await self._confirmed(pubsub, "subscribe", len(set(channels)))
            yield _Messages(pubsub)
        finally:
            # Unsubscribe before closing: fakeredis keeps a closed connection's subscriptions.
            with suppress(StoreError):
                with _translated():
                    await pubsub.unsubscribe()
                await self._confirmed(pubsub, "unsubscribe", 0)
            await pubsub.aclose()

    async def _confirmed(self, pubsub: PubSub, kind: str, subscriptions: int) -> None:
        """Read until Redis confirms `kind`, leaving `subscriptions` channels subscribed."""
        with _translated():
            async with asyncio.timeout(self.timeout_s):
                while True:
                    message = await pubsub.get_message(timeout=self.timeout_s)
                    if message and message["type"] == kind and message["data"] == subscriptions:
                        return

    async def xread(
        self, streams: Mapping[str, str], *, block_ms: int | None = None, count: int | None = None
    ) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
        command: list[str | int] = ["XREAD"]
        if count is not None:
            command += ["COUNT", count]
        if block_ms is not None:
            command += ["BLOCK", block_ms]
        command += ["STREAMS", *streams.keys(), *streams.values()]
        client = self.client if block_ms is None else self.waiting_client
        # The waiting client has no read timeout, so bound the wait here (BLOCK 0 waits
        # forever). Redis ends a BLOCK on its next cron tick (hz 10): allow for lateness.
        limit_s = block_ms / 1000 + self.timeout_s + _BLOCK_LATENESS_S if block_ms else None
        with _translated():
            async with asyncio.timeout(limit_s):
                reply = await client.execute_command(*command)
        return [(stream, _entries(entries)) for stream, entries in reply or []]


class _Messages:
    """Published messages, skipping confirmations.

    A class rather than an async generator: cancelling a pending `anext` (a timeout around
    it) would close a generator for good, but leaves this iterator usable.
    """

    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub

    def __aiter__(self) -> _Messages:
        return self

    async def __anext__(self) -> tuple[str, str]:
        while True:
            with _translated():
                message = await self._pubsub.get_message(timeout=None)
            if message is not None and message["type"] == "message":
                return message["channel"], message["data"]
