"""The REST backend: Upstash's HTTP API through `upstash_redis.asyncio`, for serverless.

Each call is one HTTPS request, so there is no subscribing here (SubscribingStore is not
implemented). The client's own retry sleeps 3 s and its HTTP client has no timeout, so
retries are off and every call is bounded by `timeout_ms`: a failing Redis fails fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from shared.errors import StoreError, StoreUnavailable
from shared.store.script import Script

try:
    from upstash_redis.asyncio import Redis as UpstashRedis
    from upstash_redis.errors import UpstashError
except ImportError as exc:  # pragma: no cover - upstash-redis is a runtime dependency
    raise ImportError("the REST store needs upstash-redis: pip install upstash-redis") from exc

Command = Sequence[str | int | float]


class RestStore:
    def __init__(self, url: str, token: str, *, timeout_ms: int) -> None:
        self.client = UpstashRedis(
            url, token, rest_retries=0, allow_telemetry=False, read_your_writes=True
        )
        self.timeout_s = timeout_ms / 1000

    async def _call(self, command: list[Any]) -> Any:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self.client.execute(command)
        except UpstashError as exc:
            raise StoreError(f"Redis refused a command: {_first_word(exc)}") from exc
        except (httpx.HTTPError, TimeoutError, OSError, ValueError) as exc:
            raise StoreUnavailable("the Upstash REST API is unreachable") from exc

    async def get(self, key: str) -> str | None:
        return await self._call(["GET", key])

    async def mget(self, keys: Sequence[str]) -> list[str | None]:
        return list(await self._call(["MGET", *keys]))

    async def set(self, key: str, value: str, *, px: int | None = None, nx: bool = False) -> bool:
        command: list[Any] = ["SET", key, value]
        if px is not None:
            command += ["PX", px]
        if nx:
            command.append("NX")
        return bool(await self._call(command))

    async def delete(self, *keys: str) -> int:
        return int(await self._call(["DEL", *keys])) if keys else 0

    async def incr(self, key: str) -> int:
        return int(await self._call(["INCR", key]))

    async def pexpire(self, key: str, ms: int) -> bool:
        return bool(await self._call(["PEXPIRE", key, ms]))

    async def pttl(self, key: str) -> int:
        return int(await self._call(["PTTL", key]))

    async def hset(self, key: str, mapping: Mapping[str, str]) -> int:
        flat = [item for pair in mapping.items() for item in pair]
        return int(await self._call(["HSET", key, *flat]))

    async def hgetall(self, key: str) -> dict[str, str]:
        return _as_dict(await self._call(["HGETALL", key]))

    async def hdel(self, key: str, *fields: str) -> int:
        return int(await self._call(["HDEL", key, *fields]))

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> int:
        flat = [item for member, score in mapping.items() for item in (score, member)]
        return int(await self._call(["ZADD", key, *flat]))

    async def zrangebyscore(
        self, key: str, minimum: float | str, maximum: float | str
    ) -> list[str]:
        return list(await self._call(["ZRANGEBYSCORE", key, minimum, maximum]))

    async def zrem(self, key: str, *members: str) -> int:
        return int(await self._call(["ZREM", key, *members]))

    async def xadd(self, key: str, fields: Mapping[str, str], *, maxlen: int | None = None) -> str:
        command: list[Any] = ["XADD", key]
        if maxlen is not None:
            command += ["MAXLEN", "~", maxlen]
        command.append("*")
        command += [item for pair in fields.items() for item in pair]
        return str(await self._call(command))

    async def xrange(
        self, key: str, start: str = "-", end: str = "+", count: int | None = None
    ) -> list[tuple[str, dict[str, str]]]:
        command: list[Any] = ["XRANGE", key, start, end]
        if count is not None:
            command += ["COUNT", count]
        return [(entry_id, _as_dict(fields)) for entry_id, fields in await self._call(command)]

    async def publish(self, channel: str, message: str) -> int:
        return int(await self._call(["PUBLISH", channel, message]))

    async def eval_script(
        self, script: Script, keys: Sequence[str], args: Sequence[str | int | float]
    ) -> Any:
        try:
            return await self._call(["EVALSHA", script.sha, len(keys), *keys, *args])
        except StoreError as error:
            if "NOSCRIPT" not in str(error.__cause__):
                raise
        return await self._call(["EVAL", script.source, len(keys), *keys, *args])

    async def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        pipe = self.client.pipeline()
        for command in commands:
            pipe.execute(list(command))
        try:
            async with asyncio.timeout(self.timeout_s):
                return list(await pipe.exec())
        except UpstashError as exc:
            raise StoreError(f"Redis refused a command: {_first_word(exc)}") from exc
        except (httpx.HTTPError, TimeoutError, OSError, ValueError) as exc:
            raise StoreUnavailable("the Upstash REST API is unreachable") from exc

    async def ping(self) -> bool:
        return bool(await self._call(["PING"]))

    async def aclose(self) -> None:
        await self.client.close()


def _first_word(exc: Exception) -> str:
    """The error's kind (`WRONGTYPE`, `NOSCRIPT`, ...), without echoing arguments back."""
    text = str(exc).strip()
    return text.split(" ", 1)[0] if text else type(exc).__name__


def _as_dict(reply: Any) -> dict[str, str]:
    if isinstance(reply, dict):
        return {str(k): str(v) for k, v in reply.items()}
    return dict(zip(reply[::2], reply[1::2], strict=True))
