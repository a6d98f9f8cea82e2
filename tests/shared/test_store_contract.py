"""One contract for every Store backend: embedded (fakeredis), native (real Redis) and REST
(the real upstash-redis client against the fake Upstash in front of real Redis).

Every backend must give the same answers in the same Python shapes, so each test runs on
all three through the `store` fixture; subscribing and blocking reads run where they exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys

import pytest
import redis.asyncio as aioredis

from shared.errors import StoreError, StoreUnavailable
from shared.store import Script, Store, SubscribingStore, connect
from shared.store.embedded import EmbeddedStore
from shared.store.native import NativeStore
from shared.store.rest import RestStore
from tests.conftest import SettingsFor
from tests.fakes.serving import free_port


def script(name: str, source: str) -> Script:
    return Script(name, source, hashlib.sha1(source.encode()).hexdigest())  # noqa: S324


ECHO = script("echo", "return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}")
FAILING = script("failing", "return redis.error_reply('ERR the script says no')")

TEXT = "héllo wörld 🎉 — 漢字"


# --- Every backend ----------------------------------------------------------------------


async def test_connect_builds_the_configured_backend(
    backend: str, settings_for: SettingsFor
) -> None:
    store = connect(await settings_for(backend))
    expected = {"embedded": EmbeddedStore, "native": NativeStore, "rest": RestStore}[backend]
    assert type(store) is expected
    assert isinstance(store, Store)
    assert isinstance(store, SubscribingStore) == (backend != "rest")
    await store.aclose()


async def test_strings_round_trip_unicode(store: Store) -> None:
    assert await store.get("k") is None
    assert await store.set("k", TEXT) is True
    assert await store.get("k") == TEXT
    assert await store.set(f"key:{TEXT}", "v") is True
    assert await store.mget(["k", "missing", f"key:{TEXT}"]) == [TEXT, None, "v"]
    assert await store.mget([]) == []


async def test_expiry(store: Store) -> None:
    assert await store.set("t", "v", px=60_000) is True
    assert 0 < await store.pttl("t") <= 60_000
    await store.set("forever", "v")
    assert await store.pttl("forever") == -1
    assert await store.pttl("missing") == -2
    assert await store.pexpire("forever", 30_000) is True
    assert 0 < await store.pttl("forever") <= 30_000
    assert await store.pexpire("missing", 30_000) is False


async def test_set_nx_only_sets_an_absent_key(store: Store) -> None:
    assert await store.set("lock", "a", nx=True) is True
    assert await store.set("lock", "b", nx=True, px=1000) is False
    assert await store.get("lock") == "a"
    assert await store.pttl("lock") == -1


async def test_fifty_racing_set_nx_have_exactly_one_winner(store: Store) -> None:
    results = await asyncio.gather(*(store.set("race", str(n), nx=True) for n in range(50)))
    assert results.count(True) == 1
    assert await store.get("race") == str(results.index(True))


async def test_delete_counts_and_incr_counts_up(store: Store) -> None:
    await store.set("a", "1")
    await store.set("b", "2")
    assert await store.delete("a", "b", "missing") == 2
    assert await store.delete() == 0
    assert await store.incr("n") == 1
    assert await store.incr("n") == 2


async def test_hashes(store: Store) -> None:
    assert await store.hset("h", {"a": "1", "b": TEXT}) == 2
    assert await store.hset("h", {"a": "one"}) == 0
    assert await store.hgetall("h") == {"a": "one", "b": TEXT}
    assert await store.hdel("h", "a", "missing") == 1
    assert await store.hgetall("h") == {"b": TEXT}
    assert await store.hgetall("nothing") == {}


async def test_sorted_sets(store: Store) -> None:
    assert await store.zadd("z", {"a": 1, "b": 2.5, "c": 3}) == 3
    assert await store.zadd("z", {"a": 0.5}) == 0
    assert await store.zrangebyscore("z", 2, "+inf") == ["b", "c"]
    assert await store.zrangebyscore("z", "(2.5", float("inf")) == ["c"]
    assert await store.zrem("z", "b", "missing") == 1
    assert await store.zrangebyscore("z", "-inf", "+inf") == ["a", "c"]
    assert await store.zrangebyscore("nothing", "-inf", "+inf") == []


async def test_streams(store: Store) -> None:
    first = await store.xadd("s", {"type": "issues", "text": TEXT})
    second = await store.xadd("s", {"type": "push"})
    assert await store.xrange("s") == [
        (first, {"type": "issues", "text": TEXT}),
        (second, {"type": "push"}),
    ]
    assert await store.xrange("s", count=1) == [(first, {"type": "issues", "text": TEXT})]
    assert await store.xrange("s", start=second) == [(second, {"type": "push"})]
    assert await store.xrange("nothing") == []


async def test_xadd_with_maxlen_keeps_the_newest(store: Store) -> None:
    ids = [await store.xadd("capped", {"n": str(n)}, maxlen=2) for n in range(5)]
    entries = await store.xrange("capped")
    # `~` trims whole nodes only: at least the last two stay, at most all five.
    assert 2 <= len(entries) <= 5
    assert entries[-1] == (ids[-1], {"n": "4"})


async def test_xrevrange_reads_newest_first(store: Store) -> None:
    ids = [await store.xadd("s", {"n": str(n)}) for n in range(3)]
    assert await store.xrevrange("s", count=2) == [(ids[2], {"n": "2"}), (ids[1], {"n": "1"})]
    assert await store.xrevrange("nothing") == []


async def test_a_consumer_group_hands_each_entry_to_one_consumer(store: Store) -> None:
    assert await store.xgroup_create("jobs", "workers", "0") is True
    assert await store.xgroup_create("jobs", "workers", "0") is False
    await store.xadd("jobs", {"n": TEXT})
    # Nothing pending yet: an idle threshold of 0 lists only delivered, unacked entries.
    assert await store.xpending("jobs", "workers", idle_ms=0, count=10) == []


async def test_pending_entries_are_claimed_once_and_acked(store: Store) -> None:
    await store.xgroup_create("jobs", "workers", "0")
    entry = await store.xadd("jobs", {"n": TEXT})
    # The REST store cannot block, but a non-blocking group read is a plain command.
    await store.pipeline([("XREADGROUP", "GROUP", "workers", "alice", "STREAMS", "jobs", ">")])
    pending = await store.xpending("jobs", "workers", idle_ms=0, count=10)
    assert [(p[0], p[1], p[3]) for p in pending] == [(entry, "alice", 1)]
    assert await store.xclaim("jobs", "workers", "bob", 0, [entry]) == [(entry, {"n": TEXT})]
    # Claimed just now, so not idle: a second claimant waiting for 60 s idle gets nothing.
    assert await store.xclaim("jobs", "workers", "carol", 60_000, [entry]) == []
    pending = await store.xpending("jobs", "workers", idle_ms=0, count=10)
    assert [(p[0], p[1], p[3]) for p in pending] == [(entry, "bob", 2)]
    assert await store.xack("jobs", "workers", entry) == 1
    assert await store.xpending("jobs", "workers", idle_ms=0, count=10) == []
    assert await store.xclaim("jobs", "workers", "bob", 0, []) == []


async def test_sets_hold_members_once(store: Store) -> None:
    assert await store.sadd("names", "octo/hello", TEXT, "octo/hello") == 2
    assert await store.smembers("names") == {"octo/hello", TEXT}
    assert await store.smembers("nothing") == set()


async def test_publish_answers_the_receiver_count(store: Store) -> None:
    assert await store.publish("nobody-listens", "x") == 0


async def test_a_pipeline_answers_redis_replies_in_order(store: Store) -> None:
    results = await store.pipeline(
        [
            ("SET", "p", "1"),
            ("INCR", "p"),
            ("GET", "p"),
            ("PEXPIRE", "p", 1000),
            ("HSET", "h", "f", TEXT),
            ("HGETALL", "h"),
            ("GET", "missing"),
        ]
    )
    # Redis's own replies, the same on every backend: no client's reshaping.
    assert results == ["OK", 2, "2", 1, 1, ["f", TEXT], None]
    assert await store.pipeline([]) == []


async def test_a_failing_command_fails_the_pipeline_after_all_ran(store: Store) -> None:
    await store.hset("h", {"f": "v"})
    with pytest.raises(StoreError) as raised:
        await store.pipeline([("SET", "before", "1"), ("INCR", "h"), ("SET", "after", "1")])
    assert not isinstance(raised.value, StoreUnavailable)
    assert await store.mget(["before", "after"]) == ["1", "1"]


async def test_a_command_error_is_a_store_error_naming_its_code(store: Store) -> None:
    await store.set("text", "x")
    with pytest.raises(StoreError) as raised:
        await store.hgetall("text")
    assert type(raised.value) is StoreError
    assert raised.value.message == "Redis refused a command (WRONGTYPE)"


async def test_scripts_run_and_survive_a_script_flush(store: Store) -> None:
    assert await store.eval_script(ECHO, ["counter"], ["arg"]) == ["counter", "arg", 1]
    assert await store.pipeline([("SCRIPT", "FLUSH"), ("SCRIPT", "EXISTS", ECHO.sha)]) == [
        "OK",
        [0],
    ]
    # The server forgot the script: EVALSHA answers NOSCRIPT and the store falls back.
    assert await store.eval_script(ECHO, ["counter"], [TEXT]) == ["counter", TEXT, 2]
    assert await store.pipeline([("SCRIPT", "EXISTS", ECHO.sha)]) == [[1]]


async def test_a_failing_script_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError) as raised:
        await store.eval_script(FAILING, [], [])
    assert type(raised.value) is StoreError


async def test_ping(store: Store) -> None:
    assert await store.ping() is True


async def test_stores_on_one_redis_share_data(store_pair: tuple[Store, Store]) -> None:
    first, second = store_pair
    await first.set("shared", TEXT)
    assert await second.get("shared") == TEXT


async def test_a_burst_larger_than_the_connection_pool_queues_instead_of_failing(
    store: Store,
) -> None:
    results = await asyncio.gather(*(store.incr("burst") for _ in range(300)))
    assert sorted(results) == list(range(1, 301))


# --- Backends that hold a connection ----------------------------------------------------


async def test_subscribers_receive_published_messages(subscribing_store: SubscribingStore) -> None:
    store = subscribing_store
    async with store.subscribe("news", "other") as messages:
        # Entering the context waited for Redis to confirm: the publish cannot overtake it.
        assert await store.publish("news", TEXT) == 1
        await store.publish("unrelated", "x")
        await store.publish("other", "second")
        async with asyncio.timeout(5):
            assert await anext(messages) == ("news", TEXT)
            assert await anext(messages) == ("other", "second")
    assert await store.publish("news", "after") == 0


async def test_a_subscription_survives_a_wait_that_timed_out(
    subscribing_store: SubscribingStore,
) -> None:
    store = subscribing_store
    async with store.subscribe("news") as messages:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await anext(messages)
        await store.publish("news", "still here")
        async with asyncio.timeout(5):
            assert await anext(messages) == ("news", "still here")


async def test_a_blocking_stream_read_returns_a_later_entry(
    subscribing_store: SubscribingStore,
) -> None:
    store = subscribing_store
    assert await store.xread({"events": "0-0"}) == []
    # From "0-0" the entry is returned however the read and the add interleave.
    reader = asyncio.create_task(store.xread({"events": "0-0"}, block_ms=5000))
    added = await store.xadd("events", {"n": TEXT})
    async with asyncio.timeout(5):
        assert await reader == [("events", [(added, {"n": TEXT})])]


async def test_stream_reads_across_streams_with_count(subscribing_store: SubscribingStore) -> None:
    store = subscribing_store
    a1 = await store.xadd("a", {"n": "1"})
    await store.xadd("a", {"n": "2"})
    b1 = await store.xadd("b", {"n": "1"})
    assert await store.xread({"a": "0-0", "b": "0-0"}, count=1) == [
        ("a", [(a1, {"n": "1"})]),
        ("b", [(b1, {"n": "1"})]),
    ]
    assert await store.xread({"b": b1}, block_ms=10) == []


async def test_a_group_read_blocks_until_an_entry_arrives(
    subscribing_store: SubscribingStore,
) -> None:
    store = subscribing_store
    await store.xgroup_create("jobs", "workers", "$")
    reader = asyncio.create_task(
        store.xreadgroup("workers", "alice", {"jobs": ">"}, block_ms=5000, count=10)
    )
    added = await store.xadd("jobs", {"n": TEXT})
    async with asyncio.timeout(5):
        assert await reader == [("jobs", [(added, {"n": TEXT})])]
    assert await store.xreadgroup("workers", "bob", {"jobs": ">"}, block_ms=10) == []
    # Its own pending entries, from id 0.
    assert await store.xreadgroup("workers", "alice", {"jobs": "0"}) == [
        ("jobs", [(added, {"n": TEXT})])
    ]


# --- Native specifics and failures ------------------------------------------------------


async def test_native_waits_outlast_the_store_timeout(fresh_redis_url: str) -> None:
    store = NativeStore.from_url(fresh_redis_url, timeout_ms=50)
    try:
        # A blocking read longer than the timeout is not a timeout.
        assert await store.xread({"quiet": "$"}, block_ms=200) == []
        async with store.subscribe("news") as messages:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await anext(messages)
            await store.publish("news", "late")
            async with asyncio.timeout(5):
                assert await anext(messages) == ("news", "late")
    finally:
        await store.aclose()


async def test_native_store_needs_a_resp2_text_client() -> None:
    client = aioredis.Redis(port=free_port(), decode_responses=True)  # RESP3 by default
    with pytest.raises(ValueError, match="protocol=2"):
        NativeStore(client)
    await client.aclose()


async def test_an_unreachable_native_store_raises_store_unavailable() -> None:
    store = NativeStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout_ms=200)
    with pytest.raises(StoreUnavailable):
        await store.get("k")
    with pytest.raises(StoreUnavailable):
        await store.pipeline([("GET", "k")])
    await store.aclose()


async def test_an_unreachable_rest_store_raises_store_unavailable() -> None:
    store = RestStore(f"http://127.0.0.1:{free_port()}", "token", timeout_ms=200)
    with pytest.raises(StoreUnavailable):
        await store.get("k")
    with pytest.raises(StoreUnavailable):
        await store.pipeline([("GET", "k")])
    await store.aclose()


async def test_wrong_native_credentials_are_a_store_error(fresh_redis_url: str) -> None:
    url = fresh_redis_url.replace("redis://", "redis://:wrong-password@")
    store = NativeStore.from_url(url, timeout_ms=2000)
    with pytest.raises(StoreError) as raised:
        await store.get("k")
    assert not isinstance(raised.value, StoreUnavailable)
    assert "wrong-password" not in str(raised.value)
    await store.aclose()


async def test_a_wrong_upstash_token_is_a_store_error(upstash: tuple[str, str]) -> None:
    base_url, _ = upstash
    store = RestStore(base_url, "wrong-token", timeout_ms=2000)
    for call in (store.get("k"), store.pipeline([("GET", "k")])):
        with pytest.raises(StoreError) as raised:
            await call
        assert not isinstance(raised.value, StoreUnavailable)
    await store.aclose()


def test_importing_the_store_package_loads_no_client_library() -> None:
    code = (
        "import sys, shared.store; "
        "print(sorted({'fakeredis', 'redis', 'upstash_redis'} & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
