"""One upstream call per cache key at a time, fleet-wide; the other callers share its answer.

In a process, the first caller's work runs as its own task and later callers await it,
so a caller that disconnects never cancels the others' answer. Across processes, the
task takes a short lease — in the same script that admits the upstream call (the
upstream-protection stage), so a miss costs no extra round trip; a process that finds the
lease taken polls for the leader's published answer instead of calling GitHub, and takes
the lease itself if the leader vanished without one (a dead leader's lease expires) — it
never hangs. What the call leaves to write (the budget, the entry, the published answer,
the release) goes in one pipeline at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections.abc import Sequence

from proxy import clock
from proxy.cache_entry import CacheEntry
from proxy.messages import (
    CacheOutcome,
    FlightClaim,
    GatewayRequest,
    GatewayResponse,
    Handler,
    NotLeader,
    StoreBatch,
)
from shared.config import Settings
from shared.errors import StoreError, StoreUnavailable
from shared.store import Store, load_script
from shared.store.keys import Keys

log = logging.getLogger("hubbub.flight")

RELEASE = load_script("lease_release")

# How long a leader's answer stays readable for the processes that waited on it.
_RESULT_TTL_MS = 10_000
_POLL_FIRST_S, _POLL_MAX_S = 0.005, 0.1
_JUST_NOW_MS = 1000


class SingleFlight:
    def __init__(self, inner: Handler, store: Store, keys: Keys, settings: Settings) -> None:
        self.inner = inner
        self.store = store
        self.keys = keys
        self.lease_ms = settings.flight_lease_ms
        self._flights: dict[str, asyncio.Task[GatewayResponse]] = {}
        # Callers waiting on another's upstream call, here or in another process.
        self.waiting = 0

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        key = request.cache_key
        if key is None:
            return await self.inner(request)
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.create_task(self._lead(request, key))
            self._flights[key] = flight
            # Registered first, so it runs before any waiter wakes: a caller arriving
            # after the answer must start a new flight, not join one that has finished.
            flight.add_done_callback(lambda _: self._flights.pop(key, None))
            flight.add_done_callback(_retrieve_exception)
            return await asyncio.shield(flight)
        self.waiting += 1
        try:
            response = await asyncio.shield(flight)
        finally:
            self.waiting -= 1
        return _shared(response)

    async def _lead(self, request: GatewayRequest, key: str) -> GatewayResponse:
        lease, result = self.keys.flight_lease(key), self.keys.flight_result(key)
        while True:
            claim = FlightClaim(lease, secrets.token_hex(8), self.lease_ms)
            batch = StoreBatch()
            try:
                return await self._fetch_and_publish(request, claim, batch, result)
            except NotLeader:
                pass
            self.waiting += 1
            try:
                answer = await self._await_leader(lease, result)
            finally:
                self.waiting -= 1
            if answer is not None:
                return answer

    async def _fetch_and_publish(
        self, request: GatewayRequest, claim: FlightClaim, batch: StoreBatch, result: str
    ) -> GatewayResponse:
        """Call through, the lease taken by the upstream-protection stage in the same script
        that admits the call; then the writes below, the published answer and the lease's
        release go in one round trip."""
        release = ("EVAL", RELEASE.source, 1, claim.lease, claim.owner, 0)
        try:
            response = await self.inner(dataclasses.replace(request, flight=claim, batch=batch))
        except NotLeader:
            # Another took the lease after an earlier attempt of ours failed: what that
            # attempt left to write (its slot, GitHub's budget) still goes.
            if batch.commands:
                await self._flush(batch.commands)
            raise
        except BaseException:
            await self._flush([*batch.commands, release])
            raise
        published = CacheEntry(response.status, response.headers, response.body, clock.now_ms(), "")
        # The answer is published before the lease goes, so a poller never sees the lease
        # gone without an answer to read.
        publish = ("SET", result, f"{claim.owner}\n{published.encode()}", "PX", _RESULT_TTL_MS)
        await self._flush([*batch.commands, publish, release])
        return response

    async def _flush(self, commands: list[Sequence[str | int | float]]) -> None:
        try:
            await self.store.pipeline(commands)
        except StoreError:
            log.warning("store unavailable: an answer's writes were not all made")

    async def _await_leader(self, lease: str, result: str) -> GatewayResponse | None:
        """The leader's answer, or None when it went away without one."""
        delay_s = _POLL_FIRST_S
        deadline = time.monotonic() + self.lease_ms / 1000 + 1
        watched: str | None = None
        while time.monotonic() < deadline:
            try:
                holder, published = await self.store.mget([lease, result])
            except StoreUnavailable:
                return None
            if watched is None:
                watched = holder
            if published is not None:
                published_by, _, encoded = published.partition("\n")
                entry = CacheEntry.decode(encoded)
                if entry is not None and (
                    published_by == watched
                    # The leader finished before we looked: take its answer only if new.
                    or (watched is None and clock.now_ms() - entry.validated_ms < _JUST_NOW_MS)
                ):
                    return entry.to_response(CacheOutcome.COALESCED, clock.now_ms())
            if holder is None or holder != watched:
                return None
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, _POLL_MAX_S)
        return None


def _shared(response: GatewayResponse) -> GatewayResponse:
    """A waiter's copy; a stale answer stays STALE, anything fetched is COALESCED."""
    outcome = response.outcome
    if outcome in (CacheOutcome.MISS, CacheOutcome.REVALIDATED):
        outcome = CacheOutcome.COALESCED
    return dataclasses.replace(response, headers=list(response.headers), outcome=outcome)


def _retrieve_exception(task: asyncio.Task[GatewayResponse]) -> None:
    # Mark the exception as seen even when every caller went away before it was raised.
    if not task.cancelled():
        task.exception()
