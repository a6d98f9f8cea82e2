"""What protects the server and the people in a room: per-socket budgets, losing access,
sockets that stop reading, readiness and metrics."""

from __future__ import annotations

import asyncio
import copy
import json

import pytest
import websockets

import realtime.hub
from tests.fakes.waiting import wait_until
from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import Live, LiveFactory
from tests.webhooks.conftest import fixture_payload


async def test_joins_beyond_the_socket_s_budget_are_refused(make_live: LiveFactory) -> None:
    live = await make_live(socket_joins_per_min=3)  # a burst of 1
    alice = await live.connect(TOKEN_A)
    assert (await alice.call("join_project", {"repo": "octo/hello"}))["ok"]
    refused = await alice.call("join_project", {"repo": "octo/other"})
    assert refused["error"]["code"] == "rate_limited"
    metrics = (await live.http.get("/metrics")).text
    assert 'hubbub_realtime_rate_limited_total{kind="join"} 1.0' in metrics


async def test_operations_beyond_the_socket_s_budget_are_refused(make_live: LiveFactory) -> None:
    live = await make_live(socket_ops_per_s=1)  # a burst of 2
    alice = await live.connect(TOKEN_A)
    await alice.call("join_project", {"repo": "octo/hello"})
    answers = [
        await alice.call("close_issue", {"repo": "octo/hello", "number": 1}) for _ in range(3)
    ]
    assert [a["ok"] for a in answers] == [True, True, False]
    assert answers[2]["error"]["code"] == "rate_limited"
    assert answers[2]["error"]["retry_after_ms"] == 1000


async def test_losing_read_access_removes_the_socket_from_the_project(live: Live) -> None:
    alice = await live.connect(TOKEN_A)
    assert (await alice.call("join_project", {"repo": "octo/secret"}))["ok"]
    secret = live.github.repos["octo/secret"]
    secret.readers.discard("alice")  # changed on github.com

    payload = copy.deepcopy(fixture_payload("member", "added"))
    payload["action"] = "removed"
    payload["repository"].update(id=secret.id, name="secret", full_name="octo/secret")
    payload["repository"]["owner"]["login"] = "octo"
    await live.deliver("member", payload)

    [left] = await alice.wait_for("project_left")
    assert left == {"repo": "octo/secret", "reason": "access_revoked"}
    again = await alice.call("join_project", {"repo": "octo/secret"})
    assert again["error"]["code"] == "forbidden"


async def test_a_socket_that_stops_reading_is_dropped_and_others_get_everything(
    make_live: LiveFactory,
) -> None:
    live = await make_live(socket_queue_max=5, socket_stall_s=1)
    bob = await live.connect(TOKEN_B)
    await bob.call("join_project", {"repo": "octo/hello"})
    url = live.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    # A raw client that joins, then never reads again: its frames pile up in the kernel,
    # then in the server's queue for it. `max_queue=1`: the library reads no further ahead.
    async with websockets.connect(url, max_queue=1) as stalled:
        assert (await stalled.recv()).startswith("0")  # engine.io open
        await stalled.send("40" + json.dumps({"token": TOKEN_A}))
        assert (await stalled.recv()).startswith("40")  # connected
        await stalled.send('421["join_project",{"repo":"octo/hello"}]')
        assert (await stalled.recv()).startswith("431")  # the join's ack
        [stalled_sid] = [s for s, m in live.hub.members.items() if m.identity.login == "alice"]

        big = {"title": "x" * 60_000}
        for n in range(200):
            await live.hub.sio.emit(
                "github_event", {**big, "id": str(n)}, room="repo:" + str(live.repo.id)
            )
        await wait_until(lambda: stalled_sid not in live.hub.members, timeout=15)
    await bob.wait_for("github_event", lambda e: e["id"] == "199")
    assert [e["id"] for e in bob.received("github_event")] == [str(n) for n in range(200)]
    metrics = (await live.http.get("/metrics")).text
    assert "hubbub_realtime_slow_sockets_dropped_total 1.0" in metrics


async def test_readiness_and_metrics(live: Live) -> None:
    assert (await live.http.get("/readyz")).json() == {"status": "ready", "store": "embedded"}
    alice = await live.connect(TOKEN_A)
    await alice.call("join_project", {"repo": "octo/hello"})
    await live.issue_event(1)
    await alice.wait_for("github_event")
    refused = await live.try_connect(None)
    assert refused.refusal["message"] == "unauthorized"
    metrics = (await live.http.get("/metrics")).text
    for line in (
        "hubbub_realtime_sockets 1.0",
        'hubbub_realtime_connects_total{outcome="accepted"} 1.0',
        'hubbub_realtime_connects_total{outcome="unauthorized"} 1.0',
        'hubbub_realtime_joins_total{outcome="joined"} 1.0',
        "hubbub_realtime_deliveries_total 1.0",
    ):
        assert line in metrics, line

    live.hub.draining = True
    assert (await live.http.get("/readyz")).status_code == 503
    late = await live.try_connect(TOKEN_A)
    assert late.refusal["message"] == "server_draining"


async def test_a_caller_s_open_sockets_are_capped(make_live: LiveFactory) -> None:
    live = await make_live(sockets_per_user_max=2)
    first = await live.connect(TOKEN_A)
    await live.connect(TOKEN_A)
    third = await live.try_connect(TOKEN_A)
    assert third.refusal["message"] == "rate_limited"
    assert third.refusal["data"]["code"] == "too_many_sockets"
    await live.connect(TOKEN_B)  # another caller is not affected
    await first.close()
    await wait_until(lambda: len(live.hub.members) == 2)
    assert (await live.try_connect(TOKEN_A)).sio.connected


async def test_malformed_arguments_get_errors_and_change_nothing(live: Live) -> None:
    alice = await live.connect(TOKEN_A)
    too_big = await alice.call("join_project", {"repo": "octo/hello", "offset": "9" * 20})
    assert too_big["error"]["code"] == "invalid_offset"
    await alice.call("join_project", {"repo": "octo/hello"})
    for status in ([], {}, 5):
        answer = await alice.call("presence", {"repo": "octo/hello", "status": status})
        assert answer["error"]["code"] == "invalid_payload"
    two_arguments = await alice.sio.call("leave_project", ({"repo": "octo/hello"}, 1), timeout=10)
    assert two_arguments["error"]["code"] == "invalid_payload"
    roster, count = await live.hub.presence.roster(live.repo.id, 10)
    assert count == 1 and roster[0]["status"] == "active"


async def test_a_socket_that_leaves_during_its_join_leaves_no_presence(live: Live) -> None:
    bob = await live.connect(TOKEN_B)
    await bob.call("join_project", {"repo": "octo/hello"})
    alice = await live.connect(TOKEN_A)
    # Bob's answer is cached for his partition only: Alice's lookup goes to GitHub.
    live.github.hold("/repos/octo/hello")
    await alice.sio.emit("join_project", {"repo": "octo/hello"})
    await live.github.wait_held(1)
    await alice.close()
    await wait_until(lambda: len(live.hub.members) == 1)
    live.github.release()
    # Her entry was put after her disconnect was handled, then taken back out.
    [left] = await bob.wait_for("presence", lambda d: d["type"] == "left")
    assert left["member"]["login"] == "alice"
    roster, count = await live.hub.presence.roster(live.repo.id, 10)
    assert [m["login"] for m in roster] == ["bob"] and count == 1


async def test_a_stop_does_not_wait_forever_on_engineio(
    make_live: LiveFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = await make_live()
    never = asyncio.Event()

    async def stuck() -> None:  # engine.io's service task never seeing the stop
        await never.wait()

    monkeypatch.setattr(realtime.hub, "_SHUTDOWN_S", 0.1)
    monkeypatch.setattr(live.hub.sio, "shutdown", stuck)
    async with asyncio.timeout(10):
        await live.hub.stop()
    assert not never.is_set()


async def test_a_stop_does_not_wait_forever_on_a_task_that_ignores_cancellation(
    make_live: LiveFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = await make_live()
    cancels = 0

    async def stubborn() -> None:  # swallows the stop's cancel, ends on the next
        nonlocal cancels
        while cancels < 2:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancels += 1

    task = asyncio.create_task(stubborn())
    live.hub._tasks.append(task)
    monkeypatch.setattr(realtime.hub, "_SHUTDOWN_S", 0.1)
    async with asyncio.timeout(10):
        await live.hub.stop()
    assert cancels == 1 and not task.done()
    task.cancel()
    await asyncio.wait([task], timeout=10)
    assert task.done()
