"""The Store: the Redis commands Hubbub uses, in Redis's own words, behind one Protocol.

Values are text (`str`): the REST backend can only carry UTF-8 strings, and every backend
must leave the same bytes in a Redis that the serverless and persistent layers share.
Callers that hold binary data encode it themselves.

Every backend turns its client's connection errors and timeouts into `StoreUnavailable`,
and command errors into `StoreError`; nothing above the Store sees a redis-py or
upstash-redis exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

from shared.store.script import Script

# One command as Redis spells it: ("SET", "k", "v", "PX", 1000).
Command = Sequence[str | int | float]


@runtime_checkable
class Store(Protocol):
    """What every backend offers, the serverless REST one included."""

    async def get(self, key: str) -> str | None: ...

    async def mget(self, keys: Sequence[str]) -> list[str | None]: ...

    async def set(self, key: str, value: str, *, px: int | None = None, nx: bool = False) -> bool:
        """SET; with `nx`, False when the key already existed."""
        ...

    async def delete(self, *keys: str) -> int: ...

    async def incr(self, key: str) -> int: ...

    async def pexpire(self, key: str, ms: int) -> bool: ...

    async def pttl(self, key: str) -> int: ...

    async def hset(self, key: str, mapping: Mapping[str, str]) -> int: ...

    async def hgetall(self, key: str) -> dict[str, str]: ...

    async def hdel(self, key: str, *fields: str) -> int: ...

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> int: ...

    async def zrangebyscore(
        self, key: str, minimum: float | str, maximum: float | str
    ) -> list[str]: ...

    async def zrem(self, key: str, *members: str) -> int: ...

    async def xadd(self, key: str, fields: Mapping[str, str], *, maxlen: int | None = None) -> str:
        """XADD with `*` as the id; `maxlen` trims approximately (`~`)."""
        ...

    async def xrange(
        self, key: str, start: str = "-", end: str = "+", count: int | None = None
    ) -> list[tuple[str, dict[str, str]]]: ...

    async def xrevrange(
        self, key: str, end: str = "+", start: str = "-", count: int | None = None
    ) -> list[tuple[str, dict[str, str]]]: ...

    async def xgroup_create(self, key: str, group: str, start: str = "$") -> bool:
        """XGROUP CREATE ... MKSTREAM; False when the group already exists."""
        ...

    async def xack(self, key: str, group: str, *ids: str) -> int: ...

    async def xpending(
        self, key: str, group: str, *, idle_ms: int, count: int
    ) -> list[tuple[str, str, int, int]]:
        """Entries pending longer than `idle_ms`: (id, consumer, idle ms, times delivered)."""
        ...

    async def xclaim(
        self, key: str, group: str, consumer: str, min_idle_ms: int, ids: Sequence[str]
    ) -> list[tuple[str, dict[str, str]]]:
        """Take over entries still idle for `min_idle_ms`; two claimants never both win one."""
        ...

    async def sadd(self, key: str, *members: str) -> int: ...

    async def smembers(self, key: str) -> set[str]: ...

    async def publish(self, channel: str, message: str) -> int: ...

    async def eval_script(
        self, script: Script, keys: Sequence[str], args: Sequence[str | int | float]
    ) -> Any:
        """EVALSHA, falling back to EVAL when the server answers NOSCRIPT."""
        ...

    async def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        """Send several commands in one round trip (not a transaction); results in order.

        Results are Redis's own replies, alike on every backend: str ("OK" too), int, None,
        and lists of those (HGETALL's a flat list). If a command fails the others still
        ran, and StoreError is raised.
        """
        ...

    async def ping(self) -> bool: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class SubscribingStore(Store, Protocol):
    """Backends that hold a connection: pub/sub and blocking stream reads (not REST)."""

    def subscribe(
        self, *channels: str
    ) -> AbstractAsyncContextManager[AsyncIterator[tuple[str, str]]]:
        """Yields (channel, message) pairs until the context exits."""
        ...

    async def xread(
        self, streams: Mapping[str, str], *, block_ms: int | None = None, count: int | None = None
    ) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]: ...

    async def xreadgroup(
        self,
        group: str,
        consumer: str,
        streams: Mapping[str, str],
        *,
        block_ms: int | None = None,
        count: int | None = None,
    ) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]: ...
