"""The native backend: `redis.asyncio` over the Redis protocol (Redis, Valkey, Upstash TCP).

It can subscribe and block on streams, so the persistent layer uses it. Connection
errors and timeouts become StoreUnavailable here and nowhere else; messages never name
the URL, which may carry a password.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from shared.errors import StoreError, StoreUnavailable
from shared.store.script import Script

try:
    import redis.asyncio as aioredis
    from redis import exceptions as redis_errors
except ImportError as exc:  # pragma: no cover - redis is a runtime dependency
    raise ImportError("the native store needs redis-py: pip install 'redis[hiredis]'") from exc

Command = Sequence[str | int | float]

MAX_CONNECTIONS = 64


def _translate(exc: Exception) -> StoreError:
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError | OSError):
        return StoreUnavailable("Redis is unreachable")
    return StoreError(f"Redis refused a command: {type(exc).__name__}")


class NativeStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str, *, timeout_ms: int) -> NativeStore:
        timeout_s = timeout_ms / 1000
        # redis-py's default pool raises once 100 connections are busy; a burst of
        # requests must queue for a connection instead (for at most the store timeout).
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=timeout_s,
            decode_responses=True,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            health_check_interval=30,
        )
        return cls(aioredis.Redis(connection_pool=pool))

    async def _run(self, *args: Any) -> Any:
        try:
            return await self.client.execute_command(*args)
        except redis_errors.RedisError as exc:
            raise _translate(exc) from exc
        except OSError as exc:
            raise _translate(exc) from exc

    async def get(self, key: str) -> str | None:
        return await self._run("GET", key)

    async def mget(self, keys: Sequence[str]) -> list[str | None]:
        return list(await self._run("MGET", *keys))

    async def set(self, key: str, value: str, *, px: int | None = None, nx: bool = False) -> bool:
        args: list[Any] = ["SET", key, value]
        if px is not None:
            args += ["PX", px]
        if nx:
            args.append("NX")
        return bool(await self._run(*args))

    async def delete(self, *keys: str) -> int:
        return int(await self._run("DEL", *keys)) if keys else 0

    async def incr(self, key: str) -> int:
        return int(await self._run("INCR", key))

    async def pexpire(self, key: str, ms: int) -> bool:
        return bool(await self._run("PEXPIRE", key, ms))

    async def pttl(self, key: str) -> int:
        return int(await self._run("PTTL", key))

    async def hset(self, key: str, mapping: Mapping[str, str]) -> int:
        flat = [item for pair in mapping.items() for item in pair]
        return int(await self._run("HSET", key, *flat))

    async def hgetall(self, key: str) -> dict[str, str]:
        return _as_dict(await self._run("HGETALL", key))

    async def hdel(self, key: str, *fields: str) -> int:
        return int(await self._run("HDEL", key, *fields))

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> int:
        flat = [item for member, score in mapping.items() for item in (score, member)]
        return int(await self._run("ZADD", key, *flat))

    async def zrangebyscore(
        self, key: str, minimum: float | str, maximum: float | str
    ) -> list[str]:
        return list(await self._run("ZRANGEBYSCORE", key, minimum, maximum))

    async def zrem(self, key: str, *members: str) -> int:
        return int(await self._run("ZREM", key, *members))

    async def xadd(self, key: str, fields: Mapping[str, str], *, maxlen: int | None = None) -> str:
        args: list[Any] = ["XADD", key]
        if maxlen is not None:
            args += ["MAXLEN", "~", maxlen]
        args.append("*")
        args += [item for pair in fields.items() for item in pair]
        return str(await self._run(*args))

    async def xrange(
        self, key: str, start: str = "-", end: str = "+", count: int | None = None
    ) -> list[tuple[str, dict[str, str]]]:
        args: list[Any] = ["XRANGE", key, start, end]
        if count is not None:
            args += ["COUNT", count]
        return [(entry_id, _as_dict(fields)) for entry_id, fields in await self._run(*args)]

    async def publish(self, channel: str, message: str) -> int:
        return int(await self._run("PUBLISH", channel, message))

    async def eval_script(
        self, script: Script, keys: Sequence[str], args: Sequence[str | int | float]
    ) -> Any:
        try:
            return await self.client.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        except redis_errors.NoScriptError:
            return await self._run("EVAL", script.source, len(keys), *keys, *args)
        except (redis_errors.RedisError, OSError) as exc:
            raise _translate(exc) from exc

    async def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        try:
            pipe = self.client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            return list(await pipe.execute(raise_on_error=False))
        except (redis_errors.RedisError, OSError) as exc:
            raise _translate(exc) from exc

    async def ping(self) -> bool:
        return bool(await self._run("PING"))

    async def aclose(self) -> None:
        await self.client.aclose()

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[AsyncIterator[tuple[str, str]]]:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(*channels)
        except (redis_errors.RedisError, OSError) as exc:
            raise _translate(exc) from exc

        async def messages() -> AsyncIterator[tuple[str, str]]:
            try:
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        yield message["channel"], message["data"]
            except (redis_errors.RedisError, OSError) as exc:
                raise _translate(exc) from exc

        try:
            yield messages()
        finally:
            await pubsub.aclose()

    async def xread(
        self, streams: Mapping[str, str], *, block_ms: int | None = None, count: int | None = None
    ) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
        args: list[Any] = ["XREAD"]
        if count is not None:
            args += ["COUNT", count]
        if block_ms is not None:
            args += ["BLOCK", block_ms]
        args += ["STREAMS", *streams.keys(), *streams.values()]
        try:
            # A blocking read outlives the socket timeout; wait for it without one.
            reply = await self.client.execute_command(*args)
        except (redis_errors.RedisError, OSError) as exc:
            raise _translate(exc) from exc
        if not reply:
            return []
        items = reply.items() if isinstance(reply, dict) else reply
        return [
            (stream, [(entry_id, _as_dict(fields)) for entry_id, fields in entries])
            for stream, entries in items
        ]


def _as_dict(reply: Any) -> dict[str, str]:
    """RESP3 gives maps, RESP2 flat lists: one shape for callers."""
    if isinstance(reply, dict):
        return dict(reply)
    return dict(zip(reply[::2], reply[1::2], strict=True))
