"""One contract for every Store backend: embedded, native (real Redis), REST (real
upstash-redis client against the fake Upstash in front of real Redis)."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from shared.errors import StoreError, StoreUnavailable
from shared.store import Script, Store, SubscribingStore
from shared.store.native import NativeStore
from shared.store.rest import RestStore
from tests.fakes.serving import free_port

ECHO_SOURCE = "return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}"
ECHO = Script("echo", ECHO_SOURCE, hashlib.sha1(ECHO_SOURCE.encode()).hexdigest())  # noqa: S324


async def test_strings_round_trip_with_expiry(store: Store) -> None:
    assert await store.get("k") is None
    assert await store.set("k", "héllo wörld 🎉") is True
    assert await store.get("k") == "héllo wörld 🎉"
    assert await store.set("t", "v", px=60_000) is True
    assert 0 < await store.pttl("t") <= 60_000
    assert await store.mget(["k", "missing", "t"]) == ["héllo wörld 🎉", None, "v"]
    assert await store.pexpire("k", 30_000) is True
    assert await store.delete("k", "t", "missing") == 2
    assert await store.incr("n") == 1
    assert await store.incr("n") == 2


async def test_set_nx_only_sets_an_absent_key(store: Store) -> None:
    assert await store.set("lock", "a", nx=True) is True
    assert await store.set("lock", "b", nx=True, px=1000) is False
    assert await store.get("lock") == "a"


async def test_fifty_racing_set_nx_have_exactly_one_winner(store: Store) -> None:
    results = await asyncio.gather(*(store.set("race", str(n), nx=True) for n in range(50)))
    assert results.count(True) == 1


async def test_hashes(store: Store) -> None:
    assert await store.hset("h", {"a": "1", "b": "2"}) == 2
    assert await store.hgetall("h") == {"a": "1", "b": "2"}
    assert await store.hdel("h", "a") == 1
    assert await store.hgetall("h") == {"b": "2"}
    assert await store.hgetall("nothing") == {}


async def test_sorted_sets(store: Store) -> None:
    assert await store.zadd("z", {"a": 1, "b": 2, "c": 3}) == 3
    assert await store.zrangebyscore("z", 2, "+inf") == ["b", "c"]
    assert await store.zrem("z", "b") == 1
    assert await store.zrangebyscore("z", "-inf", "+inf") == ["a", "c"]


async def test_streams(store: Store) -> None:
    first = await store.xadd("s", {"type": "issues", "n": "1"})
    await store.xadd("s", {"type": "push", "n": "2"}, maxlen=1000)
    entries = await store.xrange("s")
    assert entries[0][0] == first
    assert [fields for _, fields in entries] == [
        {"type": "issues", "n": "1"},
        {"type": "push", "n": "2"},
    ]
    assert len(await store.xrange("s", count=1)) == 1


async def test_publish_answers_the_receiver_count(store: Store) -> None:
    assert await store.publish("nobody-listens", "x") == 0


async def test_scripts_run_and_survive_a_script_flush(store: Store) -> None:
    assert await store.eval_script(ECHO, ["counter"], ["arg"]) == ["counter", "arg", 1]
    await store.pipeline([("SCRIPT", "FLUSH")])
    # The server forgot the script: EVALSHA answers NOSCRIPT and the store falls back.
    assert await store.eval_script(ECHO, ["counter"], ["arg"]) == ["counter", "arg", 2]


async def test_a_pipeline_answers_in_order(store: Store) -> None:
    results = await store.pipeline(
        [("SET", "p", "1"), ("INCR", "p"), ("GET", "p"), ("PEXPIRE", "p", 1000)]
    )
    assert results[1:] == [2, "2", 1]
    assert results[0] in (True, "OK")


async def test_ping(store: Store) -> None:
    assert await store.ping() is True


async def test_subscribers_receive_published_messages(store: Store) -> None:
    if not isinstance(store, SubscribingStore) or isinstance(store, RestStore):
        pytest.skip("the REST backend cannot subscribe, by design")
    async with store.subscribe("news") as messages:
        await store.publish("news", "hello")
        async with asyncio.timeout(5):
            channel, message = await anext(aiter(messages))
    assert (channel, message) == ("news", "hello")


async def test_a_blocking_stream_read_returns_a_later_entry(store: Store) -> None:
    if isinstance(store, RestStore):
        pytest.skip("the REST backend cannot block, by design")
    assert isinstance(store, SubscribingStore)
    reader = asyncio.create_task(store.xread({"events": "$"}, block_ms=5000))
    # `$` means "after what exists when the read starts": add once it is waiting.
    await asyncio.sleep(0)
    added = None
    async with asyncio.timeout(5):
        while not reader.done():
            added = await store.xadd("events", {"n": "1"})
            await asyncio.wait({reader}, timeout=0.05)
    ((stream, entries),) = reader.result()
    assert stream == "events"
    assert entries[0][1] == {"n": "1"}
    assert added is not None


async def test_an_unreachable_native_store_fails_fast_with_store_unavailable() -> None:
    store = NativeStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout_ms=200)
    with pytest.raises(StoreUnavailable):
        await store.get("k")
    await store.aclose()


async def test_an_unreachable_rest_store_fails_fast_with_store_unavailable() -> None:
    store = RestStore(f"http://127.0.0.1:{free_port()}", "token", timeout_ms=200)
    with pytest.raises(StoreUnavailable):
        await store.get("k")
    await store.aclose()


async def test_a_wrong_upstash_token_is_a_store_error(upstash_url: str) -> None:
    store = RestStore(upstash_url, "wrong-token", timeout_ms=2000)
    with pytest.raises(StoreError):
        await store.get("k")
    await store.aclose()


async def test_a_burst_larger_than_the_connection_pool_queues_instead_of_failing(
    store: Store,
) -> None:
    # Past redis-py's pool (64 here) and httpx's (100, for REST): callers wait their turn.
    burst = 120 if isinstance(store, RestStore) else 300
    results = await asyncio.gather(*(store.incr("burst") for _ in range(burst)))
    assert sorted(results) == list(range(1, burst + 1))
