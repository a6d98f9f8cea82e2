"""Shared fixtures: a real redis-server, the fake Upstash in front of it, and Stores on every
backend.

    redis_server, redis_url   one real Redis for the session (started on first use)
    fresh_redis_url           that Redis, emptied for this test
    upstash                   (base URL, token) of the fake Upstash in front of it
    settings_for              `await settings_for(backend[, base])`: Settings for a backend
    make_store                `await make_store(backend)`: a Store; those of one test share data
    backend                   each of BACKENDS in turn
    store, store_pair         one Store / two sharing data, on each backend in turn

Embedded-only tests never start redis-server: the Redis fixtures are requested lazily.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack

import fakeredis
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.datastructures import Secret

from shared.config import Settings
from shared.store import Store, SubscribingStore, connect
from tests.fakes.redis_server import RedisServer
from tests.fakes.serving import serve
from tests.fakes.upstash import create_upstash_app

BACKENDS = ("embedded", "native", "rest")
UPSTASH_TOKEN = "upstash-test-token"
STORE_TIMEOUT_MS = 5000  # generous: the fake Upstash shares this process's CPU

SettingsFor = Callable[..., Awaitable[Settings]]
StoreFactory = Callable[[str], Awaitable[Store]]


# --- Redis and the fake Upstash ---------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis; not emptied between tests (see `fresh_redis_url`)."""
    return redis_server.url


@pytest.fixture
def fresh_redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test."""
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def upstash_app(fresh_redis_url: str) -> Starlette:
    """The fake Upstash REST API in front of this test's Redis (`.state.requests`)."""
    return create_upstash_app(fresh_redis_url, UPSTASH_TOKEN)


@pytest_asyncio.fixture
async def upstash(upstash_app: Starlette) -> AsyncIterator[tuple[str, str]]:
    """(base URL, token) of the fake Upstash, served on a free port."""
    async with serve(upstash_app) as base_url:
        yield base_url, UPSTASH_TOKEN


# --- Settings and Stores on each backend -------------------------------------------------


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest_asyncio.fixture
async def settings_for(request: pytest.FixtureRequest) -> AsyncIterator[SettingsFor]:
    """`await settings_for(backend, base=None)`: `base` (default: test Settings) pointed at
    `backend`. Native and REST use this test's emptied Redis; REST starts one fake Upstash
    per test in front of it. `connect(settings)` then builds a Store on that backend."""
    async with AsyncExitStack() as stack:
        upstash_url: list[str] = []

        async def settings_for(backend: str, base: Settings | None = None) -> Settings:
            if backend not in BACKENDS:
                raise ValueError(f"unknown backend {backend!r}; one of {BACKENDS}")
            embedded = (base or Settings(store_timeout_ms=STORE_TIMEOUT_MS)).replace(
                redis_url=None, upstash_rest_url=None, upstash_rest_token=None
            )
            if backend == "embedded":
                return embedded
            redis_url: str = request.getfixturevalue("fresh_redis_url")
            if backend == "native":
                return embedded.replace(redis_url=Secret(redis_url))
            if not upstash_url:
                app = request.getfixturevalue("upstash_app")
                upstash_url.append(await stack.enter_async_context(serve(app)))
            return embedded.replace(
                upstash_rest_url=upstash_url[0], upstash_rest_token=Secret(UPSTASH_TOKEN)
            )

        yield settings_for


@pytest_asyncio.fixture
async def make_store(settings_for: SettingsFor) -> AsyncIterator[StoreFactory]:
    """`await make_store(backend)`: a Store built by `connect`, closed after the test. Stores
    one test makes on one backend share data, as processes sharing a Redis do."""
    embedded_server = fakeredis.FakeServer()
    stores: list[Store] = []

    async def make_store(backend: str) -> Store:
        store = connect(await settings_for(backend), embedded_server=embedded_server)
        stores.append(store)
        return store

    yield make_store
    for store in stores:
        await store.aclose()


@pytest_asyncio.fixture
async def store(backend: str, make_store: StoreFactory) -> Store:
    return await make_store(backend)


@pytest_asyncio.fixture
async def store_pair(backend: str, make_store: StoreFactory) -> tuple[Store, Store]:
    return await make_store(backend), await make_store(backend)


@pytest_asyncio.fixture(params=[b for b in BACKENDS if b != "rest"])
async def subscribing_store(
    request: pytest.FixtureRequest, make_store: StoreFactory
) -> SubscribingStore:
    """A Store that can subscribe and block (embedded and native): the persistent layer's."""
    store = await make_store(request.param)
    assert isinstance(store, SubscribingStore)
    return store
