"""Session-based MCP sessions on a fleet: each lives in one process, and a request for it
must reach that process.

The SDK keeps a session's state in the memory of the process that opened it. Hubbub
records, in the Store, which machine holds each session the moment the SDK names it
(before the client can learn the id), and `SessionRouter` answers a request that landed
on another machine: on Fly with a `fly-replay` header naming the right machine, which
Fly's proxy follows by sending the same request there; elsewhere with a 404 "Session not
found", on which clients open a new session. The stateless 2026 protocol never needs it.

`RecordingSessionManager` is the SDK's session manager with two hooks, written against
the pinned `mcp` 2.3.0 (a test checks both): each new session gets its own view of the
event store (the SDK shares one store between all sessions and names streams by request
id, which repeat), and a closed session's record is removed.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_server.event_store import SessionEvents
from shared.errors import StoreError
from shared.store import Store
from shared.store.keys import Keys

log = logging.getLogger("hubbub.mcp")

_SESSION_HEADER = b"mcp-session-id"
_REFRESH_S = 60.0


class Placement:
    """Where this process is, and the Store records of where sessions are."""

    def __init__(
        self, store: Store, keys: Keys, machine: str, fly_machine: str, ttl_s: int
    ) -> None:
        self.store = store
        self.keys = keys
        self.machine = machine
        self.fly_machine = fly_machine  # FLY_MACHINE_ID when on Fly, else ""
        self.ttl_ms = ttl_s * 1000
        self.local: dict[str, float] = {}  # session id -> when its record was last renewed

    def events_for(self, session_id: str) -> SessionEvents:
        return SessionEvents(self.store, self.keys, session_id, self.ttl_ms)

    async def record(self, session_id: str) -> None:
        self.local[session_id] = time.monotonic()
        try:
            await self.store.set(
                self.keys.mcp_session(session_id), self._owner_record(), px=self.ttl_ms
            )
        except StoreError:
            log.warning("store unavailable: a session's machine was not recorded")

    async def renew(self, session_id: str) -> None:
        if time.monotonic() - self.local.get(session_id, 0.0) > _REFRESH_S:
            await self.record(session_id)

    def _owner_record(self) -> str:
        return json.dumps({"machine": self.machine, "fly": self.fly_machine})

    async def renew_all(self) -> None:
        """Every session held here stays recorded, used or not: one that only listens on
        its GET stream sends no request for a long time."""
        if not self.local:
            return
        now = time.monotonic()
        # SET, not PEXPIRE: a record Redis lost (a restart, a sweep) comes back.
        owner = self._owner_record()
        commands = [
            ("SET", self.keys.mcp_session(sid), owner, "PX", self.ttl_ms) for sid in self.local
        ]
        try:
            await self.store.pipeline(commands)
        except StoreError:
            log.warning("store unavailable: session records not renewed")
            return
        for session_id in self.local:
            self.local[session_id] = now

    async def alive(self, machine: str) -> bool:
        """Whether a machine still heartbeats (realtime/presence.py writes the key); a dead
        one's sessions are gone with it."""
        try:
            return await self.store.get(self.keys.machine(machine)) is not None
        except StoreError:
            return True  # unknown: let the request be routed as recorded

    async def forget(self, session_id: str) -> None:
        self.local.pop(session_id, None)
        try:
            await self.store.delete(self.keys.mcp_session(session_id))
        except StoreError:
            log.warning("store unavailable: a closed session's record stays until it expires")

    async def owner(self, session_id: str) -> dict[str, str] | None:
        if len(session_id) > 128:
            return None
        try:
            raw = await self.store.get(self.keys.mcp_session(session_id))
        except StoreError:
            return None
        try:
            owner = json.loads(raw) if raw else None
        except ValueError:
            return None
        return owner if isinstance(owner, dict) else None


class RecordingSessionManager(StreamableHTTPSessionManager):
    """Installed on the SDK's own manager instance (`adopt`), after `streamable_http_app()`
    built it with the auth and transport settings."""

    placement: Placement

    @classmethod
    def adopt(cls, manager: StreamableHTTPSessionManager, placement: Placement) -> None:
        manager.__class__ = cls
        manager.placement = placement  # type: ignore[attr-defined]

    def _admit_session(self, requestor: Any) -> StreamableHTTPServerTransport | None:
        transport = super()._admit_session(requestor)
        if transport is not None and transport.mcp_session_id is not None:
            transport._event_store = self.placement.events_for(transport.mcp_session_id)
        return transport

    async def _discard_session(
        self, session_id: str, transport: StreamableHTTPServerTransport
    ) -> None:
        await super()._discard_session(session_id, transport)
        await self.placement.forget(session_id)
        if isinstance(transport._event_store, SessionEvents):
            await transport._event_store.drop()


class SessionRouter:
    """Plain ASGI in front of the MCP endpoint."""

    def __init__(self, app: ASGIApp, placement: Placement) -> None:
        self.app = app
        self.placement = placement

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        session_id = headers.get(_SESSION_HEADER, b"").decode("latin-1")
        placement = self.placement
        if session_id and session_id in placement.local:
            await placement.renew(session_id)
        elif session_id:
            owner = await placement.owner(session_id)
            machine = owner.get("machine") if owner is not None else None
            if owner is not None and machine != placement.machine:
                if await placement.alive(str(machine)):
                    await self._elsewhere(owner, b"fly-replay-src" in headers, send)
                    return
                # Its machine died: the SDK here answers 404, and the client starts anew.
                await placement.forget(session_id)
        else:
            send = self._recording(send)
        await self.app(scope, receive, send)

    def _recording(self, send: Send) -> Send:
        """Record a new session's machine before its id reaches the client."""

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                for name, value in message.get("headers", []):
                    if name.lower() == _SESSION_HEADER:
                        await self.placement.record(value.decode("latin-1"))
            await send(message)

        return recording

    async def _elsewhere(self, owner: dict[str, str], replayed: bool, send: Send) -> None:
        fly = owner.get("fly") or ""
        if fly and self.placement.fly_machine and not replayed:
            # Fly's proxy sees this header and sends the same request to that machine.
            await _reply(
                send,
                409,
                {"error": "session lives on another machine"},
                [(b"fly-replay", f"instance={fly}".encode())],
            )
            return
        body = {
            "jsonrpc": "2.0",
            "id": None,
            "error": {
                "code": -32600,
                "message": "Session not found on this machine: start a new session",
            },
        }
        await _reply(send, 404, body, [])


async def _reply(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
