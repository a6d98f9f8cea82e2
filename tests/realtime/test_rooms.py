"""Project rooms over real Socket.IO: connect, join, live GitHub events, catch-up, issues."""

from __future__ import annotations

import asyncio

from shared.events import EventBus
from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import TOKEN_C, Live


async def test_a_webhook_reaches_the_project_room_with_its_stream_id(live: Live) -> None:
    alice = await live.connect(TOKEN_A)
    joined = await alice.call("join_project", {"repo": "octo/hello"})
    assert joined["ok"] is True
    assert joined["repo"] == "octo/hello"
    assert joined["repository_id"] == live.repo.id
    assert joined["resync_required"] is False

    stream_id = await live.issue_event(1, title="Renamed")
    [event] = await alice.wait_for("github_event")
    assert event["id"] == stream_id
    assert event["type"] == "github.issues"
    assert event["action"] == "edited"
    assert event["repository"] == {"id": live.repo.id, "full_name": "octo/hello"}
    assert event["subject"]["number"] == 1
    assert event["data"]["title"] == "Renamed"


async def test_connecting_joins_no_room(live: Live) -> None:
    alice = await live.connect(TOKEN_A)
    bob = await live.connect(TOKEN_B)
    assert (await bob.call("join_project", {"repo": "octo/hello"}))["ok"]
    await live.issue_event(1)
    await bob.wait_for("github_event")
    # Alice is connected but never joined: only the event that opened for Bob went out,
    # and she holds nothing.
    assert alice.received("github_event") == []


async def test_an_issue_room_hears_that_its_issue_changed(live: Live) -> None:
    alice = await live.connect(TOKEN_A)
    await alice.call("join_project", {"repo": "octo/hello"})
    opened = await alice.call("open_issue", {"repo": "octo/hello", "number": 1})
    assert opened["ok"] is True
    assert opened["issue"]["title"] == "First"
    assert opened["etag"]
    assert opened["cache"] in {"MISS", "HIT", "REVALIDATED"}

    stream_id = await live.issue_event(1, title="Changed on github.com")
    [update] = await alice.wait_for("issue_updated")
    assert update == {
        "repo": "octo/hello",
        "number": 1,
        "type": "github.issues",
        "action": "edited",
        "actor": "alice",
        "id": stream_id,
    }

    assert (await alice.call("close_issue", {"repo": "octo/hello", "number": 1}))["ok"]
    await live.issue_event(1, title="Again")
    await alice.wait_for("github_event", count=2)
    assert len(alice.received("issue_updated")) == 1


async def test_open_issue_needs_the_project_and_an_existing_issue(live: Live) -> None:
    alice = await live.connect(TOKEN_A)
    not_joined = await alice.call("open_issue", {"repo": "octo/hello", "number": 1})
    assert not_joined["error"]["code"] == "not_joined"
    await alice.call("join_project", {"repo": "octo/hello"})
    missing = await alice.call("open_issue", {"repo": "octo/hello", "number": 999})
    assert missing == {
        "ok": False,
        "error": {"code": "not_found", "message": "octo/hello#999 does not exist"},
    }


async def test_rejoining_with_an_offset_replays_the_gap_in_order_without_duplicates(
    live: Live,
) -> None:
    alice = await live.connect(TOKEN_A)
    await alice.call("join_project", {"repo": "octo/hello"})
    seen = await live.issue_event(1, title="seen")
    await alice.wait_for("github_event")
    await alice.close()

    missed = [await live.issue_event(1, title=f"missed {n}") for n in range(5)]

    again = await live.connect(TOKEN_A, offsets={"octo/hello": seen})
    joined = await again.call("join_project", {"repo": "octo/hello"})
    assert [event["id"] for event in joined["catch_up"]] == missed
    assert joined["resync_required"] is False
    after = await live.issue_event(1, title="live")
    [live_event] = await again.wait_for("github_event")
    assert live_event["id"] == after
    assert after not in [event["id"] for event in joined["catch_up"]]


async def test_events_racing_a_join_arrive_exactly_once_in_order(live: Live) -> None:
    """Deliveries keep arriving while clients join with an offset: each client ends with
    every event after its offset exactly once, catch-up first, then live, in id order."""
    first = await live.issue_event(1, title="before")
    stop = asyncio.Event()
    sent: list[str] = []

    async def keep_delivering() -> None:
        while not stop.is_set():
            sent.append(await live.issue_event(1, title=f"burst {len(sent)}"))

    burst = asyncio.create_task(keep_delivering())
    clients = []
    try:
        for _ in range(4):
            client = await live.connect(TOKEN_A, offsets={"octo/hello": first})
            joined = await client.call("join_project", {"repo": "octo/hello"})
            assert joined["ok"]
            clients.append((client, [event["id"] for event in joined["catch_up"]]))
    finally:
        stop.set()
        await burst
    last = sent[-1]
    for client, catch_up in clients:
        await client.wait_for("github_event", lambda event: event["id"] == last)
        ids = catch_up + [event["id"] for event in client.received("github_event")]
        assert ids == sent, "every event once, in stream order"


async def test_a_trimmed_gap_asks_for_a_resync(make_live) -> None:  # type: ignore[no-untyped-def]
    live: Live = await make_live(repository_stream_maxlen=3)
    old = await live.issue_event(1, title="old")
    # The repository stream keeps about 3 entries: the old id falls out of it.
    bus = EventBus(live.gateway.store, live.gateway.keys, repository_maxlen=3)
    for n in range(200):
        await live.issue_event(1, title=f"newer {n}")
    assert (await bus.replay(live.repo.id, old)).resync_required

    alice = await live.connect(TOKEN_A, offsets={"octo/hello": old})
    joined = await alice.call("join_project", {"repo": "octo/hello"})
    assert joined["ok"] is True
    assert joined["resync_required"] is True
    assert joined["catch_up"] == []


async def test_join_without_read_access_is_refused_and_joins_nothing(live: Live) -> None:
    bob = await live.connect(TOKEN_B)
    refused = await bob.call("join_project", {"repo": "octo/secret"})
    assert refused == {
        "ok": False,
        "error": {"code": "forbidden", "message": "no read access to octo/secret"},
    }
    alice = await live.connect(TOKEN_A)
    assert (await alice.call("join_project", {"repo": "octo/secret"}))["ok"]


async def test_bad_payloads_get_clear_errors(live: Live) -> None:
    alice = await live.connect(TOKEN_A)
    cases = [
        ("join_project", None, "invalid_payload"),
        ("join_project", {"repo": "../etc"}, "invalid_repository"),
        ("join_project", {"repo": "octo/hello", "offset": "yesterday"}, "invalid_offset"),
        ("leave_project", {"repo": "octo/hello"}, "not_joined"),
        ("presence", {"repo": "octo/hello", "status": "here"}, "not_joined"),
        ("open_issue", {"repo": "octo/hello", "number": "1"}, "not_joined"),
    ]
    for event, data, code in cases:
        answer = await alice.call(event, data)
        assert answer["ok"] is False, event
        assert answer["error"]["code"] == code, (event, answer)
    await alice.call("join_project", {"repo": "octo/hello"})
    bad_number = await alice.call("open_issue", {"repo": "octo/hello", "number": "1"})
    assert bad_number["error"]["code"] == "invalid_payload"
    bad_status = await alice.call("presence", {"repo": "octo/hello", "status": "here"})
    assert bad_status["error"]["code"] == "invalid_payload"


async def test_rooms_per_socket_are_capped(make_live) -> None:  # type: ignore[no-untyped-def]
    live: Live = await make_live(socket_rooms_max=2)
    carol = await live.connect(TOKEN_C)
    assert (await carol.call("join_project", {"repo": "octo/hello"}))["ok"]
    assert (await carol.call("open_issue", {"repo": "octo/hello", "number": 1}))["ok"]
    full = await carol.call("join_project", {"repo": "octo/other"})
    assert full["error"]["code"] == "too_many_rooms"
    # Joining again what it is already in is not a new room.
    assert (await carol.call("join_project", {"repo": "octo/hello"}))["ok"]
