"""Exactly-once work across the fleet: a consumer group on the global event stream.

Each persistent machine runs one consumer in the group, so each event is handled by one
machine. An entry is acknowledged only after its handler returned; one whose consumer died
or failed stays pending, and after `claim_idle_ms` any consumer claims it (XCLAIM, which
two claimants cannot both win) and handles it again. After `max_attempts` deliveries it is
parked in the dead-letter stream with the last failure's reason, never dropped silently.

redis-py has no consumer-group worker and the field's task queues (arq, Celery, RQ) bring
their own formats over lists, not the stream the serverless layer appends to, so the loop
is written here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from shared.errors import StoreError
from shared.events.envelope import StreamEntry
from shared.store import SubscribingStore, load_script
from shared.store.keys import Keys

log = logging.getLogger("hubbub.events")

Handler = Callable[[StreamEntry], Awaitable[None]]

PARK = load_script("event_park")

_REASON_MAX = 300
_STORE_RETRY_S = 1.0


class EventConsumer:
    def __init__(
        self,
        store: SubscribingStore,
        keys: Keys,
        handler: Handler,
        *,
        group: str,
        name: str,
        claim_idle_ms: int = 30_000,
        max_attempts: int = 5,
        batch: int = 100,
        block_ms: int = 1000,
    ) -> None:
        self.store = store
        self.keys = keys
        self.handler = handler
        self.group = group
        self.name = name
        self.claim_idle_ms = claim_idle_ms
        self.max_attempts = max_attempts
        self.batch = batch
        self.block_ms = min(block_ms, max(claim_idle_ms, 1))
        self.stream = keys.event_stream()
        self.handled = 0
        self.dead = 0
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Join the group; a new group reads from now on, not the stream's history."""
        await self.store.xgroup_create(self.stream, self.group, "$")

    async def run(self) -> None:
        """Claim, read and handle until `stop()`; Store outages pause it, never end it.

        Stopping lets the current round finish (at most `block_ms` of waiting) rather than
        cancelling it, so no handler is cut off half-way and no connection is left mid-reply.
        """
        self._stopping.clear()
        joined = False
        while not self._stopping.is_set():
            try:
                if not joined:
                    await self.start()
                    joined = True
                await self.step()
            except StoreError as exc:
                joined = False  # the group may be gone with the data (a flushed Redis)
                log.warning("event consumer waiting for the store: %s", exc)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_STORE_RETRY_S):
                        await self._stopping.wait()

    def stop(self) -> None:
        self._stopping.set()

    async def step(self) -> int:
        """One round: take over what others left, then read new entries. Returns the count."""
        count = await self.reclaim()
        replies = await self.store.xreadgroup(
            self.group,
            self.name,
            {self.stream: ">"},
            block_ms=None if count else self.block_ms,
            count=self.batch,
        )
        for _, entries in replies:
            for entry_id, fields in entries:
                await self._handle(entry_id, fields)
                count += 1
        return count

    async def reclaim(self) -> int:
        """Handle (or park) entries pending longer than `claim_idle_ms`, whoever held them."""
        pending = await self.store.xpending(
            self.stream, self.group, idle_ms=self.claim_idle_ms, count=self.batch
        )
        if not pending:
            return 0
        attempts = {entry_id: times for entry_id, _, _, times in pending}
        claimed = await self.store.xclaim(
            self.stream, self.group, self.name, self.claim_idle_ms, list(attempts)
        )
        for entry_id, fields in claimed:
            if attempts[entry_id] >= self.max_attempts:
                await self._park(entry_id, fields, attempts[entry_id])
            else:
                await self._handle(entry_id, fields)
        # Entries missing from `claimed` were taken by another consumer in between (or
        # trimmed, which XCLAIM drops from the pending list itself): never ack them here.
        return len(claimed)

    async def _handle(self, entry_id: str, fields: dict[str, str]) -> None:
        try:
            entry = StreamEntry.from_fields(entry_id, fields)
            await self.handler(entry)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:_REASON_MAX]
            log.warning("event %s failed (%s); it will be retried", entry_id, type(exc).__name__)
            await self.store.hset(self.keys.event_failures(self.group), {entry_id: reason})
            return
        await self.store.pipeline(
            [
                ("XACK", self.stream, self.group, entry_id),
                ("HDEL", self.keys.event_failures(self.group), entry_id),
            ]
        )
        self.handled += 1

    async def _park(self, entry_id: str, fields: dict[str, str], attempts: int) -> None:
        keys = [self.keys.dead_letters(), self.stream, self.keys.event_failures(self.group)]
        kept = [part for pair in fields.items() for part in pair]
        if not await self.store.eval_script(PARK, keys, [self.group, entry_id, *kept]):
            return  # another consumer parked or finished it meanwhile
        self.dead += 1
        log.error("event %s parked in the dead-letter stream after %d attempts", entry_id, attempts)
