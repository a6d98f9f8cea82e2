"""The embedded backend: fakeredis in this process, for `hubbub dev` with nothing installed.

A test double used as a store: it runs the same Lua scripts and pub/sub as Redis, but
its state lives and dies with the process. Stores built on one FakeServer share data,
which is how tests stand two processes up in one. FakeAsyncRedis is a redis.asyncio.Redis,
so everything but construction is NativeStore's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from shared.store.native import MAX_CONNECTIONS, NativeStore

try:
    import fakeredis
    from redis.asyncio import BlockingConnectionPool
except ImportError as exc:  # pragma: no cover - fakeredis is a runtime dependency
    raise ImportError("the embedded store needs fakeredis: pip install 'fakeredis[lua]'") from exc


_POLL_S = 0.05


class EmbeddedStore(NativeStore):
    def __init__(self, server: fakeredis.FakeServer | None = None) -> None:
        self.server = fakeredis.FakeServer() if server is None else server
        client = fakeredis.FakeAsyncRedis(
            server=self.server,
            protocol=2,
            decode_responses=True,
            # The default pool fails past 100 busy connections; a burst must queue instead.
            connection_pool_class=BlockingConnectionPool,
            max_connections=MAX_CONNECTIONS,
        )
        super().__init__(client)

    async def xreadgroup(
        self,
        group: str,
        consumer: str,
        streams: Mapping[str, str],
        *,
        block_ms: int | None = None,
        count: int | None = None,
    ) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
        """fakeredis answers a group read at once, ignoring BLOCK: wait here instead, by
        polling (in process, so cheap), or a consumer loop would spin."""
        deadline = asyncio.get_running_loop().time() + (block_ms or 0) / 1000
        while True:
            reply = await super().xreadgroup(group, consumer, streams, count=count)
            if reply or block_ms is None or asyncio.get_running_loop().time() >= deadline:
                return reply
            await asyncio.sleep(_POLL_S)
