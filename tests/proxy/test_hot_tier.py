"""L1, the in-process tier: hits that ask nobody, dropped by every invalidation anywhere."""

from __future__ import annotations

import pytest

from proxy.cache_entry import CacheEntry
from proxy.hot_cache import HotCache
from shared.store import Store
from shared.store.embedded import EmbeddedStore
from tests.fakes.counting_store import CountingStore
from tests.fakes.github import FakeGitHub
from tests.fakes.waiting import wait_until
from tests.proxy.conftest import TOKEN_A, TOKEN_B, ClientFactory, auth

ISSUE = "/api/github/repos/octo/hello/issues/3"
SECRET_ISSUE = "/api/github/repos/octo/secret/issues/1"


async def test_an_l1_hit_makes_no_store_call(
    make_gateway, make_client: ClientFactory, clock: list[int]
) -> None:
    store = CountingStore(EmbeddedStore())
    gateway = make_gateway(store, cost_upstream=0)
    await gateway.start()  # hears invalidations: entries live their whole fresh window
    client = make_client(gateway)
    assert (await client.get(ISSUE, headers=auth(TOKEN_A))).headers["x-cache"] == "MISS"
    store.calls.clear()
    clock[0] += 5000
    for _ in range(5):
        hit = await client.get(ISSUE, headers=auth(TOKEN_A))
        assert hit.headers["x-cache"] == "HIT"
    assert hit.headers["age"] == "5"
    assert sum(store.calls.values()) == 0


async def test_an_l1_hit_answers_the_clients_own_etag_with_304(client, clock: list[int]) -> None:
    first = await client.get(ISSUE, headers=auth(TOKEN_A))
    again = await client.get(
        ISSUE, headers={**auth(TOKEN_A), "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["x-cache"] == "HIT"


async def test_one_callers_l1_entry_is_never_served_to_another(client, github: FakeGitHub) -> None:
    assert (await client.get(SECRET_ISSUE, headers=auth(TOKEN_A))).status_code == 200
    assert (await client.get(SECRET_ISSUE, headers=auth(TOKEN_A))).headers["x-cache"] == "HIT"
    refused = await client.get(SECRET_ISSUE, headers=auth(TOKEN_B))
    assert refused.status_code == 404
    assert "only alice" not in refused.text


async def test_bodies_are_rewritten_for_each_public_host(client) -> None:
    for host in ("one.example", "two.example", "one.example", "two.example"):
        answer = await client.get(ISSUE, headers={**auth(TOKEN_A), "Host": host})
        assert f"http://{host}/api/github/repos/octo/hello" in answer.text
        assert "api.github.com/repos" not in answer.text


@pytest.mark.parametrize("backend", ["embedded", "native"])  # REST cannot subscribe
async def test_a_write_drops_l1_entries_here_and_in_another_process(
    store_pair: tuple[Store, Store],
    make_gateway,
    make_client: ClientFactory,
    clock: list[int],
    backend: str,
) -> None:
    here, there = (make_gateway(store) for store in store_pair)
    await there.start()
    clients = [make_client(here), make_client(there)]
    for client in clients:
        await client.get(ISSUE, headers=auth(TOKEN_A))
        assert (await client.get(ISSUE, headers=auth(TOKEN_A))).headers["x-cache"] == "HIT"
    assert len(there.hot) == 1

    written = await clients[0].patch(ISSUE, headers=auth(TOKEN_A), json={"title": "Edited"})
    assert written.status_code == 200
    await wait_until(lambda: len(there.hot) == 0)

    # Neither process serves its old copy: the first asks GitHub, the second then finds
    # the new answer in the shared cache.
    for client in clients:
        answer = await client.get(ISSUE, headers=auth(TOKEN_A))
        assert answer.json()["title"] == "Edited"


async def test_without_a_subscription_l1_entries_live_at_most_the_l1_ttl(
    make_gateway, make_client: ClientFactory, clock: list[int]
) -> None:
    store = CountingStore(EmbeddedStore())
    client = make_client(make_gateway(store, l1_ttl_s=1, cost_upstream=0))  # never started
    await client.get(ISSUE, headers=auth(TOKEN_A))
    store.calls.clear()
    clock[0] += 999
    await client.get(ISSUE, headers=auth(TOKEN_A))
    assert store.calls["mget"] == 0  # from L1
    clock[0] += 1
    answer = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert answer.headers["x-cache"] == "HIT"  # from the shared cache, still fresh there
    assert store.calls["mget"] == 1


async def test_l1_off_asks_the_shared_cache_every_time(
    make_gateway, make_client: ClientFactory
) -> None:
    store = CountingStore(EmbeddedStore())
    client = make_client(make_gateway(store, l1_ttl_s=0, cost_upstream=0))
    for _ in range(3):
        await client.get(ISSUE, headers=auth(TOKEN_A))
    assert store.calls["mget"] == 3


def _entry(body: bytes) -> CacheEntry:
    return CacheEntry(200, [("etag", '"x"')], body, validated_ms=0, stamp="0")


def test_the_cache_is_bounded_by_entries_and_bytes_least_recent_first() -> None:
    cache = HotCache(max_entries=2, max_bytes=10_000)
    for key in ("a", "b"):
        cache.put(key, _entry(b"x"), ["s"], 10_000, cache.generation)
    cache.get("a", 0)  # a is now the most recent
    cache.put("c", _entry(b"x"), ["s"], 10_000, cache.generation)
    assert cache.get("b", 0) is None and cache.get("a", 0) is not None

    small = HotCache(max_entries=100, max_bytes=1500)
    for key in ("a", "b", "c"):
        small.put(key, _entry(b"x" * 500), ["s"], 10_000, small.generation)
    assert small.bytes <= 1500 and small.get("a", 0) is None


def test_an_answer_read_before_an_invalidation_is_not_kept() -> None:
    cache = HotCache(max_entries=10, max_bytes=10_000)
    read_at = cache.generation
    cache.drop_scopes(["repos/octo/hello/issues/3"])  # lands while the answer travels
    cache.put("k", _entry(b"x"), ["repos/octo/hello/issues/3"], 10_000, read_at)
    assert cache.get("k", 0) is None
    cache.put("k", _entry(b"x"), ["repos/octo/hello/issues/3"], 10_000, cache.generation)
    assert cache.drop_scopes(["repos/octo/hello/issues/3"]) == 1
    assert cache.get("k", 0) is None


@pytest.mark.parametrize("backend", ["embedded", "native"])  # REST cannot subscribe
async def test_a_webhook_in_one_process_drops_l1_entries_in_another(
    store_pair: tuple[Store, Store], make_gateway, make_client: ClientFactory, backend: str
) -> None:
    from shared.events import Envelope, EventBus

    here, there = (make_gateway(store) for store in store_pair)
    await there.start()
    client = make_client(there)
    await client.get(ISSUE, headers=auth(TOKEN_A))
    assert len(there.hot) == 1
    # What the webhook receiver does: one script appends, bumps and announces.
    bus = EventBus(here.store, here.keys)
    scopes = ["repos/octo/hello/issues/3", "repos/octo/hello/issues"]
    await bus.append(Envelope(type="github.issues"), scopes=scopes, bump=here.invalidator.bump())
    await wait_until(lambda: len(there.hot) == 0)
    assert (await client.get(ISSUE, headers=auth(TOKEN_A))).headers["x-cache"] != "HIT"
