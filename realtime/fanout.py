"""Room broadcasts at Node's pace: one encoding per broadcast, no task per recipient, and
the websocket frame written straight to each socket whose writer is idle.

Stock python-socketio spends 3-4x Node's CPU on a 1000-socket room broadcast, and the
cost is not the network: it creates a task per recipient, hops through engine.io's
per-socket queue and writer task (about 45 us each), and the garbage sets off full
collections. Node's adapter builds the websocket frame once and writes it to every
socket. These client managers do the same:

- the Socket.IO packet is encoded once per broadcast;
- each recipient is sent to in a plain loop (engine.io's `send` never suspends: a ping
  check and an unbounded `Queue.put`), so one slow socket cannot hold up the others;
- and where it is provably what the normal path would do, the frame is written to the
  socket's transport directly (`direct_target`): the socket is upgraded to a websocket
  on uvicorn's sans-I/O implementation, that connection is open with its handshake done,
  not closing, not paused by backpressure, without per-message deflate; the socket's
  writer task is parked on an empty queue (so nothing sent earlier can be overtaken);
  its ping deadline has not passed; and no ack callback is asked for. A packet with
  binary attachments (a draft's Yjs update) is its text frame followed by one binary
  frame per attachment, written together. Otherwise the packet goes through engine.io's
  queue.

The direct path reaches into private attributes of engine.io (`_async`), asyncio's
queue (`_getters`) and uvicorn's protocol. It was written against the versions in
`SUPPORTED` and is switched off, with one log line saying why, on any other version, by
`HUBBUB_DIRECT_WRITE=0`, or per send when any attribute is not what it expects. Every
send that is not direct is a normal engine.io send: correctness never depends on it.
Under the same check and switch, each socket is also the leaner engine.io socket of
realtime/lean_socket.py.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio
import socketio
from engineio import packet as eio_packet
from engineio.async_drivers import asgi as engineio_asgi
from socketio import packet as sio_packet

from realtime import lean_socket
from shared.versions import mismatch

log = logging.getLogger("hubbub.realtime")

# Connections a machine's Socket.IO manager publishes over (beside its subscriber's).
PUBLISH_CONNECTIONS = 50
# The stack the direct write was written and tested against.
SUPPORTED = {"python-socketio": "5.18.1", "python-engineio": "4.15.1", "uvicorn": "0.54.0"}


def websocket_frame(payload: bytes, *, binary: bool = False) -> bytes:
    """One unmasked, final text (or binary) frame (RFC 6455 §5.2): what a server sends."""
    opcode = 0x82 if binary else 0x81
    length = len(payload)
    if length < 126:
        return bytes((opcode, length)) + payload
    if length < 65_536:
        return bytes((opcode, 126)) + length.to_bytes(2, "big") + payload
    return bytes((opcode, 127)) + length.to_bytes(8, "big") + payload


def websocket_frames(packets: list[eio_packet.Packet]) -> bytes:
    """The frames engine.io's websocket transport would send for these packets: text as
    text, binary attachments as raw binary frames."""
    return b"".join(
        websocket_frame(item.encode(), binary=True)
        if item.binary
        else websocket_frame(item.encode().encode())
        for item in packets
    )


class _NoBody:
    """The request body of a websocket: there is none (engine.io reads `wsgi.input` only
    for a long-polling POST)."""

    async def read(self, length: int | None = None) -> bytes:
        return b""


NO_BODY = _NoBody()


class CapturingWebSocket(engineio_asgi.WebSocket):
    """engine.io's ASGI websocket, which leaves itself on its engine.io socket so the
    manager can find that socket's connection (the handler is the socket's bound method).

    It also lightens what each socket keeps for its lifetime: engine.io's `environ`
    lives as long as the socket, and its `wsgi.input` is an instance of a class that
    engine.io defines anew for every request (~2.5 KB a socket); a websocket has no body
    to read, so one shared empty input takes its place."""

    def __init__(self, handler: Any, server: Any) -> None:
        super().__init__(handler, server)
        owner = getattr(handler, "__self__", None)
        if owner is not None:
            owner.hubbub_websocket = self

    async def __call__(self, environ: dict[str, Any]) -> str:
        environ["wsgi.input"] = NO_BODY
        return await super().__call__(environ)


def connection(eio_socket: Any) -> Any:
    """The ASGI server's protocol object behind an upgraded socket, if it can be found."""
    websocket = getattr(eio_socket, "hubbub_websocket", None)
    return lean_socket.server_connection(websocket)


def paused(eio_socket: Any) -> bool:
    """Whether the socket's connection stopped taking data (the peer is not reading)."""
    writable = getattr(connection(eio_socket), "writable", None)
    return writable is not None and not writable.is_set()


def direct_target(eio_socket: Any, now: float, ping_timeout: float) -> Any:
    """The uvicorn connection to write this socket's frames to now, or None (use the queue:
    it also runs engine.io's check of a socket past its ping deadline)."""
    websocket = getattr(eio_socket, "hubbub_websocket", None)
    if websocket is None or not eio_socket.upgraded or eio_socket.closing or eio_socket.closed:
        return None
    last_ping = eio_socket.last_ping
    if last_ping and now - last_ping > ping_timeout:
        return None
    protocol = lean_socket.server_connection(websocket)
    try:
        if not (
            protocol.handshake_complete
            and not protocol.close_sent
            and not protocol.disconnected
            and protocol.writable.is_set()  # not paused: the peer is reading
            and not protocol.config.ws_per_message_deflate
            and protocol.conn.state.name == "OPEN"
            and not protocol.transport.is_closing()
        ):
            return None
        queue = eio_socket.queue
        # The writer is parked in `get()` on an empty queue: it holds nothing it could
        # still send, so a frame written now cannot overtake an earlier packet.
        if not queue.empty() or not queue._getters:
            return None
    except AttributeError:
        # Another ASGI server, or uvicorn's legacy `websockets` implementation.
        return None
    return protocol


class Fanout:
    """The broadcast loop shared by both managers (see the module docstring)."""

    server: Any
    direct_enabled: bool = False
    direct_sends = 0
    queued_sends = 0
    direct_unicasts = 0

    def enable_direct_write(self, wanted: bool) -> None:
        """Called once the server exists: installs the capture (it only records the
        connection, which the slow-socket check reads too), then checks the stack."""
        engine = self.server.eio
        if isinstance(getattr(engine, "_async", None), dict):
            engine._async = {**engine._async, "websocket": CapturingWebSocket}
        reason = None if wanted else "HUBBUB_DIRECT_WRITE is off"
        reason = reason or mismatch(SUPPORTED, "the direct write")
        if reason is None:
            self.direct_enabled = True
            self._direct_unicasts(engine)
            lean_socket.adopt(engine)
            log.info("room broadcasts write websocket frames directly")
        else:
            self.direct_enabled = False
            log.info("room broadcasts use engine.io's queues: %s", reason)

    def _direct_unicasts(self, engine: Any) -> None:
        """Packets for one socket (acks, connect replies, a `to=sid` through the queue)
        take the direct write too when it is provably what the queue would do (see
        `direct_target`). Besides the hop it saves, it keeps engine.io's writer task from
        holding on to the last packet it sent (its data and encoded copy) until the next
        one: a join's ack, with its presence roster, is ~14 KB twice over per socket until
        the next ping 25 s later. Anything else goes through engine.io as before."""
        queued_send = engine.send_packet

        async def send_packet(sid: str, pkt: eio_packet.Packet) -> None:
            eio_socket = engine.sockets.get(sid)
            if (
                self.direct_enabled
                and eio_socket is not None
                and pkt.packet_type == eio_packet.MESSAGE
            ):
                protocol = direct_target(eio_socket, time.time(), engine.ping_timeout)
                if protocol is not None:
                    protocol.transport.write(websocket_frames([pkt]))
                    self.direct_unicasts += 1
                    return
            await queued_send(sid, pkt)

        engine.send_packet = send_packet

    async def fan_out(
        self, event: str, data: Any, namespace: str, room: Any, skip_sid: Any
    ) -> None:
        if namespace not in self.rooms:  # type: ignore[attr-defined]
            return
        if isinstance(data, tuple):
            arguments = list(data)
        elif data is None:
            arguments = []
        else:
            arguments = [data]
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        encoded = self.server.packet_class(
            sio_packet.EVENT, namespace=namespace, data=[event, *arguments]
        ).encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        packets = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in parts]
        frame = websocket_frames(packets) if self.direct_enabled else None
        sockets = self.server.eio.sockets
        now = time.time()
        ping_timeout = self.server.eio.ping_timeout
        direct = queued = 0
        for sid, eio_sid in self.get_participants(namespace, room):  # type: ignore[attr-defined]
            if sid in skip:
                continue
            eio_socket = sockets.get(eio_sid)
            if eio_socket is None or eio_socket.closed:
                continue
            if frame is not None:
                protocol = direct_target(eio_socket, now, ping_timeout)
                if protocol is not None:
                    protocol.transport.write(frame)
                    direct += 1
                    continue
            for item in packets:
                # Never suspends (a ping check and an unbounded put): no head-of-line wait.
                await eio_socket.send(item)
            queued += 1
        self.direct_sends += direct
        self.queued_sends += queued


class FanoutManager(Fanout, socketio.AsyncManager):
    """One process (the embedded store)."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:  # each recipient needs its own ack id
            return await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to
            )
        await self.fan_out(event, data, namespace, to or room, skip_sid)


class RedisFanoutManager(Fanout, socketio.AsyncRedisManager):
    """Several machines: emits published on Redis by others take the same local path."""

    def _redis_connect(self) -> None:
        """A blocking pool: a burst of publishes (a thousand sockets leaving at once)
        waits for one of a bounded set of connections, where redis-py's default pool
        fails at once with "Too many connections" and the emit is dropped."""
        if "+sentinel" in urlsplit(self.redis_url).scheme:
            return super()._redis_connect()
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            self.redis_url, max_connections=PUBLISH_CONNECTIONS, timeout=5, **self.redis_options
        )
        self.redis = redis.asyncio.Redis(connection_pool=pool)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("ignore_queue") and callback is None:
            return await self.fan_out(event, data, namespace or "/", to or room, skip_sid)
        return await super().emit(
            event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kwargs
        )

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        """A message from the queue (this machine's own emit, or another's)."""
        if message.get("callback") is not None or message.get("binary"):
            return await super()._handle_emit(message)
        data = message["data"]
        if isinstance(data, list):
            data = data[0] if len(data) == 1 else tuple(data)
        await self.fan_out(
            message["event"],
            data,
            message.get("namespace") or "/",
            message.get("room"),
            message.get("skip_sid"),
        )
