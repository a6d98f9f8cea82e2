"""Resumable streams for session-based clients: the SDK's `EventStore`, on the Store.

A client whose SSE stream drops reconnects with `Last-Event-ID` and gets every message
it missed. A request's stream is kept REQUEST_STREAM_TTL_MS (a client reconnects within
seconds); the standing GET stream as long as the session may idle; all of a session's
streams go when it closes.

The SDK hands one event store to all sessions and names streams by request id ("1",
"2", ...), which repeat from session to session; each session therefore gets its own
view (sessions.py gives each its own), and every key names the session. An event id is
`<stream entry id>@<stream id>`: enough to find the stream and the place in it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.types import JSONRPCMessage, jsonrpc_message_adapter

from shared.errors import StoreError
from shared.store import Store, load_script
from shared.store.keys import Keys

log = logging.getLogger("hubbub.mcp")

STREAM_MAXLEN = 1000  # messages kept per stream for a reconnecting client
REQUEST_STREAM_TTL_MS = 300_000
_STANDALONE = "_GET_stream"  # the SDK's name for a session's standing GET stream
REPLAY_MAX = 1000
_LOST = "lost"  # the id of a message that could not be kept: nothing replays after it
APPEND = load_script("mcp_event_append")


class SessionEvents(EventStore):
    """One session's streams."""

    def __init__(self, store: Store, keys: Keys, session_id: str, ttl_ms: int) -> None:
        self.store = store
        self.keys = keys
        self.session_id = session_id
        self.ttl_ms = ttl_ms
        self.written: set[str] = set()  # this session's stream keys, deleted when it closes

    def _key(self, stream_id: StreamId) -> str:
        return self.keys.mcp_stream(f"{self.session_id}:{stream_id}")

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        data = "" if message is None else message.model_dump_json(by_alias=True, exclude_unset=True)
        key = self._key(stream_id)
        ttl_ms = self.ttl_ms
        if stream_id != _STANDALONE:
            ttl_ms = min(ttl_ms, REQUEST_STREAM_TTL_MS)
        self.written.add(key)
        try:
            # One script: the stream never exists without its expiry.
            entry_id = await self.store.eval_script(APPEND, [key], [data, STREAM_MAXLEN, ttl_ms])
        except StoreError:
            # The SDK's message loop ends on any exception here, and the session with it:
            # the message still goes out live, and only a reconnect could miss it.
            log.warning("store unavailable: a session message is not kept for resumption")
            return f"{_LOST}@{stream_id}"
        return f"{entry_id}@{stream_id}"

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        entry_id, _, stream_id = last_event_id.partition("@")
        if not stream_id or not (_is_entry_id(entry_id) or entry_id == _LOST):
            return None
        # After a message that could not be kept, all the stream holds: a client ignores
        # an answer to a request it has its answer to.
        start = "-" if entry_id == _LOST else f"({entry_id}"
        try:
            entries = await self.store.xrange(self._key(stream_id), start, "+", count=REPLAY_MAX)
        except StoreError:
            log.warning("store unavailable: a resumed stream gets no missed messages")
            return None
        for next_id, fields in entries:
            if fields.get("m"):
                message = jsonrpc_message_adapter.validate_json(fields["m"])
                await send_callback(EventMessage(message, f"{next_id}@{stream_id}"))
        return stream_id

    async def drop(self) -> None:
        """The session has closed: nobody will resume its streams."""
        written, self.written = list(self.written), set()
        for start in range(0, len(written), 500):
            try:
                await self.store.delete(*written[start : start + 500])
            except StoreError:
                log.warning("store unavailable: a closed session's streams stay until they expire")
                return


def _is_entry_id(text: str) -> bool:
    ms, _, seq = text.partition("-")
    return ms.isdigit() and seq.isdigit() and len(text) < 42


EventsFor = Callable[[str], SessionEvents]
