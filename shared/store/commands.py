"""Every Store method written once as a Redis command, plus the reshaping of its reply.

The native and REST backends share it, which keeps their answers identical: each only
carries commands to Redis (`_call`, `_pipeline`) and hands back Redis's RESP2 replies
untouched.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.errors import StoreError
from shared.store.protocol import Command
from shared.store.script import Script


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


def entries_of(reply: list[Any]) -> list[tuple[str, dict[str, str]]]:
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
        return entries_of(await self._call(command))

    async def xrevrange(
        self, key: str, end: str = "+", start: str = "-", count: int | None = None
    ) -> list[tuple[str, dict[str, str]]]:
        command: list[str | int] = ["XREVRANGE", key, end, start]
        if count is not None:
            command += ["COUNT", count]
        return entries_of(await self._call(command))

    async def xgroup_create(self, key: str, group: str, start: str = "$") -> bool:
        try:
            await self._call(("XGROUP", "CREATE", key, group, start, "MKSTREAM"))
        except StoreError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            raise
        return True

    async def xack(self, key: str, group: str, *ids: str) -> int:
        return await self._call(("XACK", key, group, *ids)) if ids else 0

    async def xpending(
        self, key: str, group: str, *, idle_ms: int, count: int
    ) -> list[tuple[str, str, int, int]]:
        # Without IDLE for 0: fakeredis filters on a strict "older than", Redis does not.
        idle = ("IDLE", idle_ms) if idle_ms > 0 else ()
        reply = await self._call(("XPENDING", key, group, *idle, "-", "+", count))
        return [(entry_id, owner, int(idle), int(times)) for entry_id, owner, idle, times in reply]

    async def xclaim(
        self, key: str, group: str, consumer: str, min_idle_ms: int, ids: Sequence[str]
    ) -> list[tuple[str, dict[str, str]]]:
        if not ids:
            return []
        reply = await self._call(("XCLAIM", key, group, consumer, min_idle_ms, *ids))
        # An entry trimmed from the stream while pending comes back as nil.
        return entries_of([entry for entry in reply if entry and entry[1] is not None])

    async def sadd(self, key: str, *members: str) -> int:
        return await self._call(("SADD", key, *members)) if members else 0

    async def smembers(self, key: str) -> set[str]:
        return set(await self._call(("SMEMBERS", key)))

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
