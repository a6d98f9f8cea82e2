"""engine.io's websocket socket, keeping less for each of a thousand idle connections.

An idle engine.io socket on a websocket holds five tasks: the ASGI connection's, one
that waits for the next frame (a task so that `wait_for` can time it), the writer, one
that waits on the writer's queue (`wait_for` makes it of the coroutine) and one that
sleeps until the next ping. Each task is a coroutine chain, a future, a context copy
and a timer: about a kilobyte apiece, for sockets that spend most of their lives
waiting. The handshake's request and response also stay on uvicorn's connection after
the accept has been sent.
Together that is most of the distance between a connected Hubbub socket and a Node
socket.io one (README, Performance (f)).

`LeanSocket` does the same work with two tasks, their deadlines and one ping timer:

- the connection's own task reads frames inside `asyncio.timeout` (Python 3.11), where
  engine.io runs the read as a task of its own under `wait_for`, with the same deadline
  (ping interval + ping timeout) and the same ending on any error;
- the writer waits on its queue inside `asyncio.timeout` too, where engine.io's `poll`
  starts another task for `wait_for`;
- the next ping is a `call_later` timer instead of a sleeping task, and queues the same
  PING packet;
- once the accept has gone out, uvicorn's connection lets go of the handshake's request
  and response (sansio implementation: nothing reads them after the accept);
- both of the socket's queues, engine.io's outgoing and uvicorn's incoming, are
  `SocketQueue`s (realtime/socket_queue.py), a few hundred bytes where an empty
  `asyncio.Queue` holds about 3 KB.

It is used only for sockets that connect over a websocket directly (Hubbub's only
transport) on the versions in `realtime.fanout.SUPPORTED`, under the same switch as the
direct write (`HUBBUB_DIRECT_WRITE`); a long-polling upgrade keeps engine.io's handler.
The class of the socket engine.io has just made is swapped in `adopt`, before engine.io
schedules its first ping: engine.io has no setting for its socket class.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket

from realtime.socket_queue import SocketQueue


class LeanSocket(AsyncSocket):
    """See the module docstring. Everything not overridden is engine.io's."""

    ping_timer: asyncio.TimerHandle | None = None

    def schedule_ping(self) -> None:
        # Only after the previous ping was answered, as engine.io does.
        if self.last_ping:
            self.last_ping = None
            loop = asyncio.get_running_loop()
            self.ping_timer = loop.call_later(self.server.ping_interval, self._ping)

    def _ping(self) -> None:
        self.ping_timer = None
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            # What engine.io's `send` does once its ping check passes (it cannot fail
            # here: the deadline starts now); the queue is unbounded.
            self.queue.put_nowait(eio_packet.Packet(eio_packet.PING))

    async def _websocket_handler(self, ws: Any) -> None:
        if self.connected:
            # An upgrade from long-polling, which Hubbub does not offer: engine.io's own.
            return await super()._websocket_handler(ws)
        self.connected = True
        self.upgraded = True
        lighten_connection(ws)
        writer = asyncio.ensure_future(self._write(ws))
        server = self.server
        while True:
            try:
                async with asyncio.timeout(server.ping_interval + server.ping_timeout):
                    data = await ws.wait()
                if data and len(data) > server.max_http_buffer_size:
                    break  # engine.io ends the connection on a message over the limit
            except (asyncio.CancelledError, Exception):
                # As engine.io: a closed connection, a deadline passed, or this task
                # cancelled all end the socket the same way, below.
                break
            if data is None:
                break
            try:
                await self.receive(eio_packet.Packet(encoded_packet=data))
            except eio_exceptions.UnknownPacketError:
                pass
            except (eio_exceptions.SocketIsClosedError, asyncio.CancelledError):
                break  # engine.io logs a cancel here and reads on; ending is what it asks
            except Exception:
                server.logger.exception("Unknown receive error")
        await self.queue.put(None)  # the writer's signal to stop
        await writer
        if self.ping_timer is not None:
            self.ping_timer.cancel()
        await self.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)

    async def _write(self, ws: Any) -> None:
        """engine.io's writer without its per-wait task: everything queued, in order,
        until a batch holding the None that ends it (what else that batch holds is sent
        first); it keeps no packet between sends. As engine.io's, it ends when nothing
        came for the reader's deadline (a live socket gets a ping every ping interval,
        so only a closed socket whose client still talks gets there: this is what
        closes its connection), when a send fails, or when it is cancelled; then it
        closes the websocket, and the reader's cleanup goes on."""
        queue = self.queue
        server = self.server
        while True:
            try:
                async with asyncio.timeout(server.ping_interval + server.ping_timeout):
                    packets = [await queue.get()]
                queue.task_done()
                while not queue.empty():
                    packets.append(queue.get_nowait())
                    queue.task_done()
                end = None in packets
                for item in packets:
                    if item is not None:
                        await ws.send(item.encode())
                packets = item = None  # nothing held until the next batch
            except (asyncio.CancelledError, Exception):
                break
            if end:
                break
        with contextlib.suppress(asyncio.CancelledError):  # the reader's cleanup goes on
            await ws.close()


def server_connection(ws: Any) -> Any:
    """The ASGI server's protocol object behind engine.io's websocket wrapper (its `send`
    is the protocol's bound method), if there is one."""
    return getattr(getattr(ws, "asgi_send", None), "__self__", None)


def lighten_connection(ws: Any) -> None:
    """What uvicorn's sansio connection keeps for its lifetime and need not: the
    handshake's request and response (two header sets, ~4 KB), which nothing reads once
    the accept is sent, and an `asyncio.Queue` for incoming messages, which becomes a
    `SocketQueue` with the same messages in the same order. Nothing waits on that queue
    now (this runs in the app, before its first `receive`), and nothing can put between
    the moves: they do not await."""
    protocol = server_connection(ws)
    if not getattr(protocol, "handshake_complete", False) or not hasattr(protocol, "response"):
        return
    protocol.request = None
    protocol.response = None
    incoming = getattr(protocol, "queue", None)
    if type(incoming) is asyncio.Queue and not incoming._getters:
        lighter = SocketQueue()
        while not incoming.empty():
            lighter.put_nowait(incoming.get_nowait())
        protocol.queue = lighter


def adopt(engine: Any) -> None:
    """Gives every new socket a `SocketQueue`, through engine.io's `create_queue` hook, and
    makes every socket that connects over a websocket a LeanSocket, in engine.io's connect
    event: after engine.io made the socket, before it schedules the first ping."""
    stock_queue = engine.create_queue

    def create_queue(*args: Any, **kwargs: Any) -> Any:
        return stock_queue(*args, **kwargs) if args or kwargs else SocketQueue()

    engine.create_queue = create_queue
    connect = engine.handlers["connect"]

    async def lean_connect(eio_sid: str, environ: dict[str, Any], *args: Any) -> Any:
        eio_socket = engine.sockets.get(eio_sid)
        if type(eio_socket) is AsyncSocket and environ.get("HTTP_UPGRADE", "").lower() == (
            "websocket"
        ):
            eio_socket.__class__ = LeanSocket
        return await connect(eio_sid, environ, *args)

    engine.handlers["connect"] = lean_connect
