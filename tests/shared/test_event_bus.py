"""The durable plane: append (deduplicated, one id in two streams), names, recent, replay."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from shared.events import Envelope, EventBus, Repository, StreamEntry, Subject
from shared.events.bus import parse_stream_id
from shared.store import Store
from shared.store.keys import Keys

KEYS = Keys("t:")
HELLO = Repository(1296269, "Octo/Hello")


def event(n: int = 1, repository: Repository | None = HELLO) -> Envelope:
    return Envelope(
        type="github.issues",
        action="edited",
        repository=repository,
        subject=Subject("issue", number=n),
        actor="octocat",
        delivery=f"d-{n}",
        time="2026-11-23T10:00:00Z",
        data={"title": f"Issue {n} — ünïcode", "state": "open", "labels": ["bug"]},
    )


async def test_an_event_lands_in_both_streams_under_one_id(store: Store) -> None:
    bus = EventBus(store, KEYS)
    appended = await bus.append(event(), scopes=["repos/octo/hello/issues/1"])
    assert appended is not None
    assert appended.names == {"octo/hello"}
    ((global_id, fields),) = await store.xrange(KEYS.event_stream())
    ((repo_id, _),) = await store.xrange(KEYS.repository_stream(HELLO.id))
    assert global_id == repo_id == appended.id
    entry = StreamEntry.from_fields(global_id, fields)
    assert entry.envelope == dataclasses.replace(event(), id=appended.id)
    assert entry.scopes == ("repos/octo/hello/issues/1",)


async def test_a_deduplicated_append_stores_nothing_the_second_time(store: Store) -> None:
    bus = EventBus(store, KEYS)
    key = KEYS.webhook_delivery("7", "guid")
    first = await bus.append(event(), dedupe_key=key, dedupe_ttl_ms=60_000)
    second = await bus.append(event(), dedupe_key=key, dedupe_ttl_ms=60_000)
    assert first is not None and second is None
    assert len(await store.xrange(KEYS.event_stream())) == 1
    assert 0 < await store.pttl(key) <= 60_000


async def test_racing_duplicates_store_one_event(store: Store) -> None:
    bus = EventBus(store, KEYS)
    key = KEYS.webhook_delivery("7", "guid")
    results = await asyncio.gather(
        *(bus.append(event(), dedupe_key=key, dedupe_ttl_ms=60_000) for _ in range(20))
    )
    assert sum(result is not None for result in results) == 1
    assert len(await store.xrange(KEYS.event_stream())) == 1


async def test_a_renamed_repository_keeps_one_history_and_every_name(store: Store) -> None:
    bus = EventBus(store, KEYS)
    await bus.append(event(1))
    renamed = await bus.append(event(2, Repository(HELLO.id, "octo/World")))
    assert renamed is not None
    assert renamed.names == {"octo/hello", "octo/world"}
    assert await bus.repository_id("OCTO/WORLD") == HELLO.id
    assert await bus.repository_id("octo/hello") == HELLO.id
    assert [e.subject.number for e in await bus.recent(HELLO.id, 10) if e.subject] == [1, 2]


async def test_events_without_a_repository_go_to_the_global_stream_only(store: Store) -> None:
    bus = EventBus(store, KEYS)
    appended = await bus.append(event(repository=None))
    assert appended is not None and appended.names == frozenset()
    assert len(await store.xrange(KEYS.event_stream())) == 1
    assert await store.xrange(KEYS.repository_stream(0)) == []


async def test_replay_returns_what_came_after_in_order(store: Store) -> None:
    bus = EventBus(store, KEYS)
    ids = [(await bus.append(event(n))).id for n in range(5)]  # type: ignore[union-attr]
    replay = await bus.replay(HELLO.id, ids[1])
    assert [e.id for e in replay.entries] == ids[2:]
    assert not replay.resync_required and not replay.more
    assert (await bus.replay(HELLO.id, ids[-1])).entries == []


async def test_replay_is_bounded_and_says_there_is_more(store: Store) -> None:
    bus = EventBus(store, KEYS)
    ids = [(await bus.append(event(n))).id for n in range(5)]  # type: ignore[union-attr]
    replay = await bus.replay(HELLO.id, ids[0], limit=2)
    assert [e.id for e in replay.entries] == ids[1:3]
    assert replay.more


async def test_a_gap_that_was_trimmed_asks_for_a_resync(store: Store) -> None:
    bus = EventBus(store, KEYS, repository_maxlen=1)
    first = await bus.append(event(0))
    assert first is not None
    for n in range(1, 300):  # `~` trims whole nodes (100 entries by default)
        await bus.append(event(n))
    assert (await bus.replay(HELLO.id, first.id)).resync_required
    newest = (await bus.recent(HELLO.id, 1))[0]
    assert newest.id is not None
    assert not (await bus.replay(HELLO.id, newest.id)).resync_required


@pytest.mark.parametrize("bad", ["", "abc", "1-2-3", "-1", "1-", "9" * 30])
def test_a_malformed_stream_id_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="stream id"):
        parse_stream_id(bad)


def test_an_envelope_survives_its_stored_form() -> None:
    original = dataclasses.replace(event(7), id="1-0")
    assert Envelope.from_json(original.to_json(), "1-0") == original
    assert original.to_dict()["v"] == 1
    assert "id" not in json.loads(original.to_json())
