"""The native backend: `redis.asyncio` over the Redis protocol (Redis, Valkey, Upstash TCP).

It holds connections, so it can subscribe and block on streams: the persistent layer uses it.

Every Store method itself is in `commands.py`, shared with the REST backend.

redis-py is imported on first use, so the REST backend (serverless) never loads it.
Connection errors and timeouts become StoreUnavailable here; messages never name the URL,
which may carry a password.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from shared.errors import StoreError, StoreUnavailable
from shared.store.commands import CommandStore, ScriptMissing, entries_of, refusal
from shared.store.protocol import Command

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

# Connections (or HTTP requests) one store keeps busy at once; a burst beyond this queues
# for at most the store timeout instead of failing.
MAX_CONNECTIONS = 64
_BLOCK_LATENESS_S = 0.5


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
        self._reads: list[tuple[Sequence[str], asyncio.Future[list[str | None]]]] = []
        self._senders: set[asyncio.Task[None]] = set()
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

    async def mget(self, keys: Sequence[str]) -> list[str | None]:
        """MGETs issued in one turn of the event loop go to Redis as one pipeline.

        A shared-cache lookup is one MGET, and under load many are issued at once: alone,
        each costs a round trip of redis-py's CPU (about two bare HTTP requests' worth on
        the project's machine); together they share one. redis-py has no automatic
        pipelining, so it is done here, for the one read the hit path makes.
        """
        if not keys:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[str | None]] = loop.create_future()
        self._reads.append((keys, future))
        if len(self._reads) == 1:
            loop.call_soon(self._send_reads)  # after every task ready in this turn has run
        return await future

    def _send_reads(self) -> None:
        batch, self._reads = self._reads, []
        sender = asyncio.create_task(self._read_all(batch))
        self._senders.add(sender)
        sender.add_done_callback(self._senders.discard)

    async def _read_all(
        self, batch: list[tuple[Sequence[str], asyncio.Future[list[str | None]]]]
    ) -> None:
        try:
            if len(batch) == 1:
                replies = [await self._call(("MGET", *batch[0][0]))]
            else:
                replies = await self._pipeline([("MGET", *keys) for keys, _ in batch])
        except Exception as exc:
            for _, future in batch:
                if not future.done():  # a caller that went away has cancelled its own
                    future.set_exception(exc)
            return
        except asyncio.CancelledError:  # the store is closing: nobody is left waiting
            for _, future in batch:
                if not future.done():
                    future.set_exception(StoreUnavailable("the store was closed"))
            raise
        for (_, future), reply in zip(batch, replies, strict=True):
            if not future.done():
                future.set_result(reply)

    async def aclose(self) -> None:
        for sender in list(self._senders):
            sender.cancel()
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
        return await self._read(["XREAD"], streams, block_ms=block_ms, count=count)

    async def xreadgroup(
        self,
        group: str,
        consumer: str,
        streams: Mapping[str, str],
        *,
        block_ms: int | None = None,
        count: int | None = None,
    ) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
        command: list[str | int] = ["XREADGROUP", "GROUP", group, consumer]
        return await self._read(command, streams, block_ms=block_ms, count=count)

    async def _read(
        self,
        command: list[str | int],
        streams: Mapping[str, str],
        *,
        block_ms: int | None,
        count: int | None,
    ) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
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
        return [(stream, entries_of(entries)) for stream, entries in reply or []]


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
