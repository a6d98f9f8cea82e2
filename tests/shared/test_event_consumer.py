"""The consumer group: each event handled once across consumers, the dead's work taken
over, failures retried a bounded number of times and then parked with their reason."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from shared.events import Envelope, EventBus, EventConsumer, Repository, StreamEntry
from shared.store import SubscribingStore
from shared.store.keys import Keys
from tests.fakes.waiting import wait_until

KEYS = Keys("t:")
HELLO = Repository(1, "octo/hello")


def envelope(n: int) -> Envelope:
    return Envelope(type="github.issues", action="edited", repository=HELLO, data={"n": n})


class Recorder:
    def __init__(self) -> None:
        self.seen: Counter[int] = Counter()
        self.by: dict[int, str] = {}

    def handler(self, name: str):
        async def handle(entry: StreamEntry) -> None:
            self.seen[entry.envelope.data["n"]] += 1
            self.by[entry.envelope.data["n"]] = name

        return handle


async def stop(*consumers: EventConsumer) -> None:
    for each in consumers:
        each.stop()
    async with asyncio.timeout(10):
        await asyncio.gather(*(each.task for each in consumers))  # type: ignore[attr-defined]


def consumer(store: SubscribingStore, name: str, handler, **options) -> EventConsumer:
    return EventConsumer(store, KEYS, handler, group="work", name=name, block_ms=50, **options)


async def test_two_consumers_handle_every_event_exactly_once(
    subscribing_store: SubscribingStore,
) -> None:
    store = subscribing_store
    recorder = Recorder()
    alice = consumer(store, "alice", recorder.handler("alice"))
    bob = consumer(store, "bob", recorder.handler("bob"))
    await alice.start()
    bus = EventBus(store, KEYS)
    for each in (alice, bob):
        each.task = asyncio.create_task(each.run())
    try:
        for n in range(200):
            await bus.append(envelope(n))
        await wait_until(lambda: len(recorder.seen) == 200, timeout=10)
        # Wait for the acknowledgements too: nothing left pending.
        await wait_until(lambda: alice.handled + bob.handled == 200, timeout=10)
    finally:
        await stop(alice, bob)
    assert set(recorder.seen.values()) == {1}
    assert await store.xpending(KEYS.event_stream(), "work", idle_ms=0, count=500) == []


async def test_a_consumer_that_dies_after_reading_leaves_its_events_to_another(
    subscribing_store: SubscribingStore,
) -> None:
    store = subscribing_store
    bus = EventBus(store, KEYS)
    stuck = asyncio.Event()

    async def hangs(entry: StreamEntry) -> None:
        stuck.set()
        await asyncio.Event().wait()  # the machine dies mid-handling: never acknowledged

    dying = consumer(store, "dying", hangs, claim_idle_ms=200)
    await dying.start()
    for n in range(5):
        await bus.append(envelope(n))
    task = asyncio.create_task(dying.step())
    await asyncio.wait_for(stuck.wait(), 5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    pending = await store.xpending(KEYS.event_stream(), "work", idle_ms=0, count=10)
    assert {owner for _, owner, _, _ in pending} == {"dying"} and len(pending) == 5

    recorder = Recorder()
    survivor = consumer(store, "survivor", recorder.handler("survivor"), claim_idle_ms=200)
    survivor.task = asyncio.create_task(survivor.run())
    try:
        await wait_until(lambda: survivor.handled == 5, timeout=10)
    finally:
        await stop(survivor)
    assert recorder.seen == Counter(range(5))
    assert await store.xpending(KEYS.event_stream(), "work", idle_ms=0, count=10) == []


async def test_a_failing_event_is_retried_then_parked_with_its_reason(
    subscribing_store: SubscribingStore,
) -> None:
    store = subscribing_store
    bus = EventBus(store, KEYS)
    attempts: Counter[int] = Counter()

    async def fails_on_two(entry: StreamEntry) -> None:
        n = entry.envelope.data["n"]
        attempts[n] += 1
        if n == 2:
            raise RuntimeError("GitHub said no")

    worker = consumer(store, "w", fails_on_two, claim_idle_ms=50, max_attempts=3)
    await worker.start()
    for n in range(4):
        await bus.append(envelope(n))
    worker.task = asyncio.create_task(worker.run())
    try:
        await wait_until(lambda: worker.dead == 1, timeout=10)
    finally:
        await stop(worker)
    assert attempts == Counter({0: 1, 1: 1, 2: 3, 3: 1})
    ((_, parked),) = await store.xrange(KEYS.dead_letters())
    assert parked["reason"] == "RuntimeError: GitHub said no"
    assert StreamEntry.from_fields(parked["id"], parked).envelope.data == {"n": 2}
    assert await store.xpending(KEYS.event_stream(), "work", idle_ms=0, count=10) == []
