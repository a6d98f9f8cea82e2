"""Shared fixtures: a real redis-server, the fake Upstash in front of it, and Stores.

`store` runs a test on every backend; `store_pair` gives two Stores that share one Redis,
as two processes (or two machines) would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import fakeredis
import pytest
import pytest_asyncio

from shared.store import Store
from shared.store.embedded import EmbeddedStore
from shared.store.native import NativeStore
from shared.store.rest import RestStore
from tests.fakes.redis_server import RedisServer
from tests.fakes.serving import serve
from tests.fakes.upstash import create_upstash_app

BACKENDS = ["embedded", "native", "rest"]
UPSTASH_TOKEN = "upstash-test-token"
STORE_TIMEOUT_MS = 2000


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A real Redis, emptied for this test."""
    redis_server.flush()
    return redis_server.url


@pytest_asyncio.fixture
async def upstash_url(redis_url: str) -> AsyncIterator[str]:
    """The fake Upstash REST API in front of this test's Redis."""
    async with serve(create_upstash_app(redis_url, UPSTASH_TOKEN)) as base:
        yield base


@asynccontextmanager
async def _stores(
    backend: str, request: pytest.FixtureRequest, count: int
) -> AsyncIterator[list[Store]]:
    """`count` Stores on one backend, sharing one Redis (or one embedded server)."""
    if backend == "embedded":
        server = fakeredis.FakeServer()
        stores: list[Store] = [EmbeddedStore(server) for _ in range(count)]
        yield stores
    else:
        redis_server: RedisServer = request.getfixturevalue("redis_server")
        redis_server.flush()
        if backend == "native":
            stores = [
                NativeStore.from_url(redis_server.url, timeout_ms=STORE_TIMEOUT_MS)
                for _ in range(count)
            ]
            yield stores
        else:
            async with serve(create_upstash_app(redis_server.url, UPSTASH_TOKEN)) as url:
                stores = [
                    RestStore(url, UPSTASH_TOKEN, timeout_ms=STORE_TIMEOUT_MS) for _ in range(count)
                ]
                yield stores
    for each in stores:
        await each.aclose()


@pytest_asyncio.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    async with _stores(request.param, request, 1) as (only,):
        yield only


@pytest_asyncio.fixture(params=BACKENDS)
async def store_pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Store, Store]]:
    async with _stores(request.param, request, 2) as (first, second):
        yield first, second
