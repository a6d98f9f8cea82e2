"""The native store sends the MGETs of one event-loop turn as one pipeline."""

from __future__ import annotations

import asyncio

import pytest

from shared.errors import StoreUnavailable
from shared.store.native import NativeStore
from tests.conftest import StoreFactory


async def test_concurrent_reads_share_a_round_trip_and_each_gets_its_own_answer(
    make_store: StoreFactory,
) -> None:
    store = await make_store("native")
    assert isinstance(store, NativeStore)
    for number in range(20):
        await store.set(f"k{number}", f"v{number}")
    pipelines = []
    send = store._pipeline

    async def counted(commands):  # type: ignore[no-untyped-def]
        pipelines.append(len(commands))
        return await send(commands)

    store._pipeline = counted  # type: ignore[method-assign]
    answers = await asyncio.gather(
        *(store.mget([f"k{number}", "missing", f"k{(number + 1) % 20}"]) for number in range(20))
    )

    assert answers == [[f"v{number}", None, f"v{(number + 1) % 20}"] for number in range(20)]
    assert pipelines == [20]


async def test_a_reader_that_goes_away_does_not_disturb_the_others(
    make_store: StoreFactory,
) -> None:
    store = await make_store("native")
    await store.set("k", "v")
    leaving = asyncio.create_task(store.mget(["k"]))
    staying = asyncio.create_task(store.mget(["k"]))
    # One turn of the event loop, the unit this batching works in: both tasks queue their
    # read, and the pipeline is sent in the next turn (a state too brief to poll for).
    await asyncio.sleep(0)
    leaving.cancel()
    assert await staying == ["v"]
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_reads_fail_together_when_redis_is_gone(make_store: StoreFactory) -> None:
    store = await make_store("native")
    await store.client.aclose()
    store.client.connection_pool.connection_kwargs["port"] = 1  # nothing listens there
    results = await asyncio.gather(store.mget(["a"]), store.mget(["b"]), return_exceptions=True)
    assert all(isinstance(result, StoreUnavailable) for result in results)
