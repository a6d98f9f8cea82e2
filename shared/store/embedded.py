"""The embedded backend: fakeredis in this process, for `hubbub dev` with nothing installed.

A test double used as a store: it runs the same Lua scripts and pub/sub as Redis, but
its state lives and dies with the process. Stores built on one FakeServer share data,
which is how tests stand two processes up in one.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool

from shared.store.native import MAX_CONNECTIONS, NativeStore

try:
    import fakeredis
except ImportError as exc:  # pragma: no cover - fakeredis is a runtime dependency
    raise ImportError("the embedded store needs fakeredis: pip install 'fakeredis[lua]'") from exc


class EmbeddedStore(NativeStore):
    def __init__(self, server: fakeredis.FakeServer | None = None) -> None:
        self.server = server or fakeredis.FakeServer()
        client = fakeredis.FakeAsyncRedis(
            server=self.server,
            decode_responses=True,
            connection_pool_class=BlockingConnectionPool,
            max_connections=MAX_CONNECTIONS,
        )
        super().__init__(client)
