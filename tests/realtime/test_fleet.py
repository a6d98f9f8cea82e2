"""Several machines on one Redis: `hubbub serve` processes, real Redis, real clients.

A client on A hears a webhook that hit B; presence is one roster across machines; a
machine killed with SIGKILL leaves no ghost past its expiry; SIGTERM drains; a Redis
restart mid-stream loses no durable event.
"""

from __future__ import annotations

import re
import signal

import httpx

from tests.fakes.redis_server import RedisServer
from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import TOKEN_C, Fleet, deliver, issue_payload, join
from tests.realtime.fleet import Machine

PRESENCE_TTL_S = 2


async def test_an_event_that_hit_b_reaches_a_client_on_a_and_presence_spans_both(
    fleet: Fleet, fresh_redis_url: str
) -> None:
    a = await fleet.machine("a", fresh_redis_url)
    b = await fleet.machine("b", fresh_redis_url)
    alice = await fleet.client(a, TOKEN_A)
    await join(alice)
    bob = await fleet.client(b, TOKEN_B)
    bob_joined = await join(bob)

    assert sorted(m["login"] for m in bob_joined["presence"]["members"]) == ["alice", "bob"]
    [seen] = await alice.wait_for("presence", lambda d: d["type"] == "joined")
    assert seen["member"]["login"] == "bob"

    stream_id = await fleet.issue_event(b, 1, "from B")
    [event] = await alice.wait_for("github_event")
    assert (event["id"], event["data"]["title"]) == (stream_id, "from B")
    [same] = await bob.wait_for("github_event")
    assert same["id"] == stream_id


async def test_emits_published_by_one_machine_take_the_direct_write_on_another(
    fleet: Fleet, fresh_redis_url: str
) -> None:
    a = await fleet.machine("a", fresh_redis_url)
    b = await fleet.machine("b", fresh_redis_url)
    clients = [await fleet.client(a, token) for token in (TOKEN_A, TOKEN_C)]
    for client in clients:
        await join(client)
    async with httpx.AsyncClient(base_url=a.url) as http:
        before = _direct_sends((await http.get("/metrics")).text)
        # Bob's join on B is published on Redis; A fans it out to its two members.
        await join(await fleet.client(b, TOKEN_B))
        for client in clients:
            await client.wait_for(
                "presence", lambda d: d["type"] == "joined" and d["member"]["login"] == "bob"
            )
        after = _direct_sends((await http.get("/metrics")).text)
    assert after - before >= 2


def _direct_sends(metrics: str) -> int:
    match = re.search(r'hubbub_realtime_broadcast_sends_total\{path="direct"\} (\S+)', metrics)
    assert match is not None
    return int(float(match[1]))


async def test_a_machine_killed_with_sigkill_leaves_no_ghost(
    fleet: Fleet, fresh_redis_url: str
) -> None:
    ttl = {"HUBBUB_PRESENCE_TTL_S": str(PRESENCE_TTL_S)}
    a = await fleet.machine("a", fresh_redis_url, **ttl)
    b = await fleet.machine("b", fresh_redis_url, **ttl)
    alice = await fleet.client(a, TOKEN_A)
    await join(alice)
    bob = await fleet.client(b, TOKEN_B)
    await join(bob)
    await alice.wait_for("presence", lambda d: d["type"] == "joined")

    b.kill()
    [left] = await alice.wait_for("presence", lambda d: d["type"] == "left")
    assert left["member"]["login"] == "bob"
    assert left["count"] == 1
    carol = await fleet.client(a, TOKEN_C)
    roster = (await join(carol))["presence"]["members"]
    assert sorted(m["login"] for m in roster) == ["alice", "carol"]


async def test_sigterm_drains_clients_and_removes_their_presence(
    fleet: Fleet, fresh_redis_url: str
) -> None:
    # Presence would take a minute to expire: its prompt removal is the drain's doing.
    slow_expiry = {"HUBBUB_PRESENCE_TTL_S": "60", "HUBBUB_DRAIN_S": "0.5"}
    a = await fleet.machine("a", fresh_redis_url, **slow_expiry)
    b = await fleet.machine("b", fresh_redis_url, **slow_expiry)
    alice = await fleet.client(a, TOKEN_A)
    await join(alice)
    bob = await fleet.client(b, TOKEN_B)
    await join(bob)
    await alice.wait_for("presence", lambda d: d["type"] == "joined")

    b.terminate()
    [draining] = await bob.wait_for("server:draining")
    # One socket, one batch: disconnected after the 500 ms slot, told to come back within
    # the slot after it.
    assert 500 <= draining["retry_in_ms"] <= 1000
    await bob.disconnected.wait()
    [left] = await alice.wait_for("presence", lambda d: d["type"] == "left")
    assert left["member"]["login"] == "bob"
    # uvicorn re-raises the signal it caught once it has shut down cleanly.
    assert await b.exited() in (0, -signal.SIGTERM)
    assert "Traceback" not in b.output()


async def test_a_redis_restart_mid_stream_loses_no_durable_event(fleet: Fleet) -> None:
    redis = RedisServer(durable=True)
    fleet.stack.callback(redis.stop)
    a = await fleet.machine("a", redis.url)
    b = await fleet.machine("b", redis.url)
    alice = await fleet.client(a, TOKEN_A)
    await join(alice)

    sent = [await fleet.issue_event(b, 1, f"before {n}") for n in range(5)]
    await alice.wait_for("github_event", count=5)
    redis.restart()
    sent += [await _deliver_when_back(fleet, b, f"after {n}") for n in range(5)]

    await alice.wait_for("github_event", lambda e: e["id"] == sent[-1])
    received = [event["id"] for event in alice.received("github_event")]
    assert received == sent, "every stream id exactly once, in order"


async def _deliver_when_back(fleet: Fleet, machine: Machine, title: str) -> str:
    """A delivery, retried while the machine's Store reconnects (GitHub retries too)."""
    async with httpx.AsyncClient(base_url=machine.url) as http:
        payload = issue_payload(fleet.repo, 1, "edited", title)
        for _ in range(100):
            try:
                return str((await deliver(http, "issues", payload)).json()["id"])
            except AssertionError:
                continue
    raise AssertionError("the machine never took a delivery after Redis came back")
