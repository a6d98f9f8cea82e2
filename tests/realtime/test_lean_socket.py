"""The lean engine.io socket (realtime/lean_socket.py): on the pinned stack each socket is
a LeanSocket with two tasks and light queues, and it behaves as engine.io's own socket
does (with the direct write off, the stock socket runs the same tests): pings keep an
answering client and drop a silent one, an oversized message ends the connection, and
a closed connection leaves nothing behind. What it saves is measured in bench/fanout.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets
from engineio.async_socket import AsyncSocket

from realtime.connections import forget_request_headers
from realtime.lean_socket import LeanSocket
from realtime.socket_queue import SocketQueue
from tests.fakes.waiting import wait_until
from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import Live, LiveFactory

STOCK_TASKS = {  # engine.io's per-socket tasks that a LeanSocket does without
    "AsyncSocket._send_ping",
    "AsyncSocket._websocket_handler.<locals>.websocket_wait",
    "AsyncSocket._websocket_handler.<locals>.writer",
}


def task_kinds() -> Counter[str]:
    return Counter(task.get_coro().__qualname__ for task in asyncio.all_tasks())


@asynccontextmanager
async def raw_socket(live: Live, token: str) -> AsyncIterator[Any]:
    """A websocket speaking engine.io and Socket.IO by hand: it answers pings only when
    the test does, which no library client can be made to skip."""
    url = live.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(url) as ws:
        assert (await ws.recv()).startswith("0")
        await ws.send("40" + json.dumps({"token": token}))
        assert (await ws.recv()).startswith("40")
        yield ws


def sid_of(live: Live, login: str) -> str:
    [sid] = [sid for sid, member in live.hub.members.items() if member.identity.login == login]
    return sid


async def test_on_the_pinned_stack_a_socket_keeps_two_tasks_and_light_queues(live: Live) -> None:
    before = task_kinds()
    clients = [await live.connect(token) for token in (TOKEN_A, TOKEN_B)]
    for client in clients:
        assert (await client.call("join_project", {"repo": "octo/hello"}))["ok"]
    sockets = list(live.hub.sio.eio.sockets.values())
    assert len(sockets) == 2
    assert all(type(s) is LeanSocket for s in sockets)
    assert all(isinstance(s.queue, SocketQueue) for s in sockets)
    kinds = task_kinds() - before
    assert kinds["LeanSocket._write"] == 2, kinds
    assert not STOCK_TASKS & set(kinds), kinds
    assert all(s.ping_timer is not None for s in sockets), "the next ping is a timer"
    for eio_socket in sockets:
        protocol = eio_socket.hubbub_websocket.asgi_send.__self__
        assert protocol.request is None and protocol.response is None
        assert isinstance(protocol.queue, SocketQueue)
    # The handshake's headers were read at connect and let go.
    for environ in live.hub.sio.environ.values():
        assert not [key for key in environ if key.startswith("HTTP_")], environ
        assert environ["asgi.scope"]["headers"] == []
    assert {m.client_ip for m in live.hub.members.values()} == {"127.0.0.1"}


async def test_with_the_direct_write_off_sockets_are_engine_ios_own(
    make_live: LiveFactory,
) -> None:
    live = await make_live(direct_write=False)
    before = task_kinds()
    await live.connect(TOKEN_A)
    [eio_socket] = live.hub.sio.eio.sockets.values()
    assert type(eio_socket) is AsyncSocket
    assert type(eio_socket.queue) is asyncio.Queue
    kinds = task_kinds() - before
    assert set(kinds) >= STOCK_TASKS, kinds


@pytest.fixture(params=[True, False], ids=["lean", "stock"])
async def either(request: pytest.FixtureRequest, make_live: LiveFactory) -> Live:
    return await make_live(direct_write=request.param)


async def test_pings_keep_an_answering_client_and_drop_a_silent_one(either: Live) -> None:
    live = either
    engine = live.hub.sio.eio
    # Read by each socket as it goes. The timeout leaves a loaded machine room to answer.
    engine.ping_interval, engine.ping_timeout = 0.2, 1.0
    async with raw_socket(live, TOKEN_A) as answering, raw_socket(live, TOKEN_B) as silent:
        alice, bob = sid_of(live, "alice"), sid_of(live, "bob")
        pings = 0
        async with asyncio.timeout(15):
            while pings < 12:  # 2.4 s of pings: twice the deadline
                if await answering.recv() == "2":
                    pings += 1
                    await answering.send("3")
        # The silent socket got its pings and was let go; the answering one stays.
        await wait_until(lambda: bob not in live.hub.members, timeout=15)
        assert alice in live.hub.members
        await answering.send('421["join_project",{"repo":"octo/hello"}]')
        async with asyncio.timeout(5):
            while not (reply := await answering.recv()).startswith("431"):
                assert reply == "2"
                await answering.send("3")
        assert json.loads(reply[3:])[0]["ok"] is True
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(10):
                while True:
                    await silent.recv()


async def test_a_client_that_talks_but_never_answers_a_ping_is_closed(either: Live) -> None:
    """engine.io's ping check ends the socket; the writer's deadline then closes the
    connection, though the client's own messages keep the reader's deadline away."""
    live = either
    engine = live.hub.sio.eio
    engine.ping_interval, engine.ping_timeout = 0.2, 1.0
    async with raw_socket(live, TOKEN_A) as ws:
        alice = sid_of(live, "alice")
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(15):
                while True:
                    await ws.send("6")  # engine.io's NOOP
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.1):
                            await ws.recv()
        assert alice not in live.hub.members


async def test_the_server_closing_a_socket_waits_for_its_queue_and_tells_the_client(
    either: Live,
) -> None:
    live = either
    async with raw_socket(live, TOKEN_A) as ws:
        [eio_sid] = live.hub.sio.eio.sockets
        await live.hub.sio.emit("last", {"n": 1}, to=sid_of(live, "alice"))
        async with asyncio.timeout(10):
            # close(wait=True): returns once the writer has taken everything queued.
            await live.hub.sio.eio.disconnect(eio_sid)
            received = [await ws.recv()]
            while received[-1] != "1":  # engine.io's CLOSE packet: the client closes
                received.append(await ws.recv())
        assert received == ['42["last",{"n":1}]', "1"]
    await wait_until(lambda: not live.hub.members and not live.hub.sio.eio.sockets)


@pytest.mark.parametrize("direct_write", [True, False], ids=["lean", "stock"])
async def test_a_message_over_the_limit_ends_the_connection(
    make_live: LiveFactory, direct_write: bool
) -> None:
    live = await make_live(direct_write=direct_write, socket_max_message_bytes=2000)
    async with raw_socket(live, TOKEN_A) as ws:
        await ws.send('42["presence:update",{"pad":"' + "x" * 3000 + '"}]')
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(10):
                while True:
                    await ws.recv()
    await wait_until(lambda: not live.hub.members and not live.hub.sio.eio.sockets)


async def test_a_cancelled_connection_task_still_disconnects_the_socket(either: Live) -> None:
    """What uvicorn does to a connection at the end of a shutdown's grace period: the
    socket's disconnect still runs (presence, counts), and no writer is left behind."""
    live = either
    before = task_kinds()
    async with raw_socket(live, TOKEN_A):
        sid_of(live, "alice")
        [connection] = [
            task
            for task in asyncio.all_tasks()
            if task.get_coro().__qualname__ == "WebSocketsSansIOProtocol.run_asgi"
        ]
        connection.cancel()
        await wait_until(lambda: not live.hub.members and not live.hub.sio.eio.sockets)
        await wait_until(lambda: connection.done())
    kinds = task_kinds() - before
    writers = {"LeanSocket._write", "AsyncSocket._websocket_handler.<locals>.writer"}
    assert not set(kinds) & writers, kinds  # (engine.io's sleeping ping lingers 25 s)


async def test_a_closed_connection_leaves_no_task_and_no_timer(live: Live) -> None:
    before = task_kinds()
    async with raw_socket(live, TOKEN_A):
        [eio_socket] = live.hub.sio.eio.sockets.values()
        timer = eio_socket.ping_timer
        assert timer is not None
    await wait_until(lambda: not live.hub.members and not live.hub.sio.eio.sockets)
    await wait_until(lambda: (task_kinds() - before)["LeanSocket._write"] == 0)
    assert timer.cancelled()


def test_after_the_connect_only_the_headers_a_later_connect_reads_are_kept() -> None:
    scope = {"type": "websocket", "headers": [(b"user-agent", b"x")], "client": ("10.0.0.1", 1)}
    environ = {
        "HTTP_USER_AGENT": "x",
        "HTTP_X_FORWARDED_FOR": "203.0.113.9",
        "REQUEST_METHOD": "GET",
        "asgi.scope": scope,
    }
    forget_request_headers(environ)
    assert environ == {
        "HTTP_X_FORWARDED_FOR": "203.0.113.9",
        "REQUEST_METHOD": "GET",
        "asgi.scope": scope,
    }
    assert scope["headers"] == [] and scope["client"] == ("10.0.0.1", 1)
