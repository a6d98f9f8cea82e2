"""The embedded backend: fakeredis in this process, for `hubbub dev` with nothing installed.

A test double used as a store: it runs the same Lua scripts and pub/sub as Redis, but
its state lives and dies with the process. Stores built on one FakeServer share data,
which is how tests stand two processes up in one. FakeAsyncRedis is a redis.asyncio.Redis,
so everything but construction is NativeStore's.
"""

from __future__ import annotations

from shared.store.native import MAX_CONNECTIONS, NativeStore

try:
    import fakeredis
    from redis.asyncio import BlockingConnectionPool
except ImportError as exc:  # pragma: no cover - fakeredis is a runtime dependency
    raise ImportError("the embedded store needs fakeredis: pip install 'fakeredis[lua]'") from exc


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
