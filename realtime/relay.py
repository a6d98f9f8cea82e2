"""The durable plane's last leg: this machine reads the global event stream and hands each
event to its own sockets in the event's project room, in stream order.

Every machine reads the whole stream from the last id it handled (`XREAD BLOCK`), so a
Redis restart or a dropped connection costs a pause, never an event: the read resumes
from that id. The emit is local (`ignore_queue`): every machine delivers to its own
members, and nothing goes through the ephemeral plane.

`position` is the id of the entry whose recipients were last fixed. A join reads its
catch-up up to `position` and enters the room with no await in between, so each event
reaches a joining socket exactly once: in the catch-up if its recipients were fixed
before the join, live if after (realtime/projects.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from realtime.metrics import RealtimeMetrics
from realtime.rooms import issue_room, project_room
from shared.errors import StoreError
from shared.events import Envelope, StreamEntry
from shared.store import SubscribingStore
from shared.store.keys import Keys

log = logging.getLogger("hubbub.realtime")

_BLOCK_MS = 5000
_BATCH = 100
_BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0)
# Subjects an `issue_updated` is sent for: what the issue room shows.
_ISSUE_KINDS = frozenset({"issue", "pull_request"})

Emit = Callable[..., Awaitable[None]]


class EventRelay:
    def __init__(
        self,
        store: SubscribingStore,
        keys: Keys,
        emit: Emit,
        metrics: RealtimeMetrics,
        *,
        after_batch: Callable[[], None] = lambda: None,
        on_event: Callable[[Envelope], None] = lambda envelope: None,
    ) -> None:
        self.store = store
        self.keys = keys
        self.emit = emit
        self.metrics = metrics
        self.after_batch = after_batch
        self.on_event = on_event
        self.position: str | None = None  # None until the stream's tip is known
        self.alive = False  # reading, or about to: /readyz
        self._stopping = False

    async def start(self) -> None:
        """Begin at the stream's current tip: older events reach a client in its join's
        catch-up, not live."""
        newest = await self.store.xrevrange(self.keys.event_stream(), count=1)
        self.position = newest[0][0] if newest else "0-0"

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        stream = self.keys.event_stream()
        failures = 0
        while not self._stopping:
            try:
                if self.position is None:
                    await self.start()
                assert self.position is not None
                self.alive = True
                reply = await self.store.xread(
                    {stream: self.position}, block_ms=_BLOCK_MS, count=_BATCH
                )
                failures = 0
            except StoreError:
                self.alive = False
                self.metrics.redis_reconnects.inc()
                delay = _BACKOFF_S[min(failures, len(_BACKOFF_S) - 1)]
                failures += 1
                log.warning("event stream unreadable; retrying from %s", self.position)
                await asyncio.sleep(delay)
                continue
            try:
                for _, entries in reply:
                    for entry_id, fields in entries:
                        await self._deliver(entry_id, fields)
                if reply:
                    self.after_batch()
            except Exception:
                # One bad delivery must not stop the stream for every room here.
                log.exception("delivering stream entries failed; going on from %s", self.position)
        self.alive = False

    async def _deliver(self, entry_id: str, fields: dict[str, str]) -> None:
        try:
            envelope = StreamEntry.from_fields(entry_id, fields).envelope
        except (KeyError, TypeError, ValueError):
            log.warning("skipping a malformed stream entry %s", entry_id)
            self.position = entry_id
            return
        # Fixed before the first await: the emit takes its recipients synchronously.
        self.position = entry_id
        self.on_event(envelope)
        repository = envelope.repository
        if repository is None:
            return
        await self.emit(
            "github_event", envelope.to_dict(), room=project_room(repository.id), ignore_queue=True
        )
        self.metrics.deliveries.inc()
        self._measure_lag(entry_id)
        subject = envelope.subject
        if subject is not None and subject.number is not None and subject.kind in _ISSUE_KINDS:
            await self.emit(
                "issue_updated",
                _issue_update(envelope),
                room=issue_room(repository.id, subject.number),
                ignore_queue=True,
            )

    def _measure_lag(self, entry_id: str) -> None:
        milliseconds = int(entry_id.partition("-")[0])
        self.metrics.listener_lag.set(max(0.0, time.time() - milliseconds / 1000))


def _issue_update(envelope: Envelope) -> dict[str, object]:
    assert envelope.repository is not None and envelope.subject is not None
    return {
        "repo": envelope.repository.full_name,
        "number": envelope.subject.number,
        "type": envelope.type,
        "action": envelope.action,
        "actor": envelope.actor,
        "id": envelope.id,
    }
