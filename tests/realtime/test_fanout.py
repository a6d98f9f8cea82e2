"""Room broadcasts the fast way (realtime/fanout.py): the direct write is used on the
pinned stack and falls back everywhere else with the same delivery; per-socket order
holds across every path; a stalled socket never holds up the others."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re

import pytest
import websockets

from realtime.rooms import project_room
from tests.fakes.waiting import wait_until
from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import TOKEN_C, Client, Live, LiveFactory, RunJs

SENDS = re.compile(r'hubbub_realtime_broadcast_sends_total\{path="(\w+)"\} (\d+)')


UNICASTS = re.compile(r"^hubbub_realtime_unicast_direct_sends_total (\S+)$", re.MULTILINE)


async def sends(live: Live) -> dict[str, int]:
    """Broadcast packets by path, and (`unicast`) packets for one socket written directly."""
    metrics = (await live.http.get("/metrics")).text
    counts = {path: int(float(count)) for path, count in SENDS.findall(metrics)}
    found = UNICASTS.search(metrics)
    assert found is not None, "no unicast counter in /metrics"
    return {**counts, "unicast": int(float(found.group(1)))}


async def joined(live: Live, *tokens: str) -> list[Client]:
    clients = [await live.connect(token) for token in tokens]
    for client in clients:
        assert (await client.call("join_project", {"repo": "octo/hello"}))["ok"]
    return clients


async def test_on_the_pinned_stack_broadcasts_are_written_directly(live: Live) -> None:
    clients = await joined(live, TOKEN_A, TOKEN_B, TOKEN_C)
    sent = [await live.issue_event(1, title=f"n{n}") for n in range(5)]
    for client in clients:
        await client.wait_for("github_event", count=5)
        assert [e["id"] for e in client.received("github_event")] == sent
    counts = await sends(live)
    assert counts["direct"] >= 10, counts  # most of the 15 deliveries
    # The joins' acks went the same way: the writer keeps no packet (a join's ack holds
    # the roster) until the next one.
    assert counts["unicast"] >= 3, counts


async def test_a_broadcast_with_binary_attachments_is_written_directly_too(live: Live) -> None:
    clients = await joined(live, TOKEN_A, TOKEN_B, TOKEN_C)
    before = await sends(live)
    # Frame lengths of every width: 7-bit, 16-bit and 64-bit.
    blobs = [bytes([n]) * (n * 40) for n in range(1, 5)] + [b"z" * 70_000]
    for n, blob in enumerate(blobs):
        await live.hub.sio.emit(
            "blob", {"n": n, "data": blob}, room=project_room(live.repo.id), ignore_queue=True
        )
    for client in clients:
        got = await client.wait_for("blob", count=5)
        assert [(b["n"], b["data"]) for b in got] == list(enumerate(blobs))
    after = await sends(live)
    assert after["direct"] - before["direct"] >= 10, (before, after)


# uvicorn's legacy websockets implementation warns that it is deprecated, as are its parts.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The `websockets` implementation is deprecated")
@pytest.mark.parametrize(
    "server",
    [{"direct_write": False}, {"ws": "websockets"}],
    ids=["direct-write-off", "legacy-websockets"],
)
async def test_every_send_falls_back_with_the_same_delivery(
    make_live: LiveFactory, server: dict[str, object]
) -> None:
    live = await make_live(**server)
    clients = await joined(live, TOKEN_A, TOKEN_B)
    sent = [await live.issue_event(1, title=f"n{n}") for n in range(5)]
    for client in clients:
        await client.wait_for("github_event", count=5)
        assert [e["id"] for e in client.received("github_event")] == sent
    counts = await sends(live)
    assert counts["direct"] == 0 and counts["queued"] >= 10
    assert counts["unicast"] == 0


async def _interleave(live: Live, targets: list[str], count: int) -> None:
    """`count` numbered `seq` events, each to the room, to one socket, or to one socket
    asking for an ack, in a random mix; every socket must see its numbers rising."""
    room = project_room(live.repo.id)
    sio = live.hub.sio
    pending = []
    rng = random.Random(7)
    for n in range(count):
        kind = rng.choice(("room", "room", "one", "ack"))
        if kind == "room":
            await sio.emit("seq", {"n": n}, room=room)
        else:
            for sid in targets:
                if kind == "one":
                    await sio.emit("seq", {"n": n}, to=sid)
                else:
                    done = asyncio.get_running_loop().create_future()
                    await sio.emit(
                        "seq",
                        {"n": n},
                        to=sid,
                        callback=lambda *a, f=done: f.done() or f.set_result(a),
                    )
                    pending.append(done)
        if n % 50 == 0:
            await asyncio.sleep(0)  # let writers run: both paths get used
    async with asyncio.timeout(10):
        await asyncio.gather(*pending)


async def test_a_burst_mixing_broadcasts_acks_and_direct_emits_arrives_in_order(
    live: Live,
    run_js: RunJs,
) -> None:
    clients = await joined(live, TOKEN_A, TOKEN_B)
    js = await run_js(
        {"url": live.url, "token": TOKEN_C, "repo": "octo/hello", "event": "seq", "count": 400}
    )
    assert await js.expect("connected") is True
    assert (await js.expect("ack"))["ok"] is True
    await wait_until(lambda: len(live.hub.members) == 3)
    await _interleave(live, list(live.hub.members), 400)

    for client in clients:
        await client.wait_for("seq", count=400)
        assert [e["n"] for e in client.received("seq")] == list(range(400))
    numbers = [(await js.expect("event"))["n"] for _ in range(400)]
    assert numbers == list(range(400))
    counts = await sends(live)
    assert counts["direct"] > 0 and counts["queued"] > 0, "both paths took part"


async def test_a_stalled_socket_falls_back_and_never_delays_the_others(
    make_live: LiveFactory,
) -> None:
    live = await make_live(socket_queue_max=50, socket_stall_s=1)
    bob, carol = await joined(live, TOKEN_B, TOKEN_C)
    url = live.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(url, max_queue=1) as stalled:
        assert (await stalled.recv()).startswith("0")
        await stalled.send("40" + json.dumps({"token": TOKEN_A}))
        assert (await stalled.recv()).startswith("40")
        await stalled.send('421["join_project",{"repo":"octo/hello"}]')
        assert (await stalled.recv()).startswith("431")
        [stalled_sid] = [s for s, m in live.hub.members.items() if m.identity.login == "alice"]

        room = project_room(live.repo.id)
        for n in range(300):
            await live.hub.sio.emit("big", {"n": n, "pad": "x" * 20_000}, room=room)
        for client in (bob, carol):
            await client.wait_for("big", count=300)
            assert [e["n"] for e in client.received("big")] == list(range(300))
        await wait_until(lambda: stalled_sid not in live.hub.members, timeout=15)
    counts = await sends(live)
    assert counts["queued"] > 0, "the stalled socket's sends went through its queue"
    assert counts["direct"] > 0


def test_on_other_versions_the_direct_write_switches_itself_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import realtime.fanout
    from realtime.socket_server import create_socket_server
    from shared.config import Settings

    monkeypatch.setitem(realtime.fanout.SUPPORTED, "python-socketio", "0.0.1")
    with caplog.at_level(logging.INFO, logger="hubbub.realtime"):
        server = create_socket_server(Settings())
    assert server.manager.direct_enabled is False
    [line] = [r.message for r in caplog.records if "broadcasts" in r.message]
    assert "python-socketio is 5.18.1, the direct write knows 0.0.1" in line
