"""Each caller's own budget at the proxy: GCRA in one Lua script, on Redis's clock.

Callers are the hash of their credential (client IP only when anonymous). A read costs
`cost_read` up front; one that GitHub had to answer in full (MISS) is surcharged
`cost_upstream` afterwards (from the lease, or owed and debited with the next take),
never refused for it; a write costs `cost_write`. GraphQL
spends its own bucket. If the Store is unreachable, reads go on (fail open) and writes
are refused (fail closed): a lost limit on a read costs little, on a write it may spend
someone's GitHub budget on a burst. Both are logged.

Reads are leased: an instance takes up to `limit_lease_units` units in one script call
and spends them in process for at most `limit_lease_ms`, so most reads make no Store call
for their limit. The units are debited in Redis when taken, so no number of instances
can admit more than the limit; a lease that expires unspent under-admits by at most its
size, once per instance. A caller refused is remembered here until its retry time, so
a caller hammering past its limit costs no round trips either.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from proxy.messages import GatewayRequest, GatewayResponse, Handler
from proxy.stages.cache_lookup import is_cacheable, lookup_keys
from shared.config import Settings
from shared.errors import RateLimited, StoreUnavailable
from shared.identity import Identity
from shared.store import Store, SubscribingStore, load_script
from shared.store.keys import Keys

log = logging.getLogger("hubbub.limit")

GCRA = load_script("caller_limit")
LEASE = load_script("caller_lease")

# Past this many callers with a lease, expired ones are dropped (bounds the memory).
_LEASES_KEPT = 10_000
# A busy caller's lease grows with its queue, up to this many leases' worth of units.
_MAX_LEASES = 4
# A caller who spends a lease within half its life gets one twice as large next, up to
# this share of their limit: what one process can hold unspent (under-admission) stays
# small, and a caller polling hard stops costing a Store round trip every few requests.
_LEASE_SHARE = 100


@dataclass(frozen=True)
class _Policy:
    bucket: str
    limit: int
    cost: int


@dataclass
class _Lease:
    units: int  # left to spend in this process
    remaining: int  # the caller's units left in Redis when the lease was taken
    reset_ms: int
    expires: float  # time.monotonic()
    blocked_until: float = 0.0  # refused until then (time.monotonic())
    demand: int = 0  # units the requests queued on the last take asked for
    size: int = 0  # units this lease was taken with
    taken_at: float = 0.0
    debt: int = 0  # surcharges owed, debited with the next take


# Whether admitted, units remaining, retry after (ms), reset (ms).
_State = tuple[bool, int, int, int]


class _Take:
    """A lease being taken; requests arriving meanwhile queue on it."""

    def __init__(self) -> None:
        self.waiters: list[tuple[int, asyncio.Future[_State | None]]] = []


class CallerLimit:
    def __init__(
        self,
        inner: Handler,
        store: Store,
        keys: Keys,
        settings: Settings,
        *,
        generation: Callable[[], int] = lambda: 0,
    ) -> None:
        self.inner = inner
        # The in-process tier's invalidation counter: a read sent with a lease take must be
        # judged against the count before it was sent, not after the answer came back.
        self.generation = generation
        self.store = store
        self.keys = keys
        self.settings = settings
        self.window_us = settings.caller_window_s * 1_000_000
        self.lease_units = settings.limit_lease_units
        self.lease_s = settings.limit_lease_ms / 1000
        self._subscribing = isinstance(store, SubscribingStore)
        self._leases: dict[str, _Lease] = {}
        self._taking: dict[str, _Take] = {}

    def _policy(self, request: GatewayRequest) -> _Policy:
        settings = self.settings
        if request.path == "/graphql":
            return _Policy("graphql", settings.graphql_limit, 1)
        limit = settings.anonymous_limit if request.identity.is_anonymous else settings.caller_limit
        cost = settings.cost_read if request.is_read else settings.cost_write
        return _Policy("rest", limit, cost)

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        policy = self._policy(request)
        if policy.limit == 0:
            return await self.inner(request)
        key = self.keys.caller_limit(policy.bucket, request.identity.limit_key)
        leased = request.is_read and policy.bucket == "rest" and self.lease_units > 0
        try:
            if leased:
                read = self._cache_read(request)
                generation = self.generation()
                state, prefetched = await self._spend_leased(key, policy, policy.cost, read)
                if prefetched is not None:
                    request = dataclasses.replace(
                        request, prefetched=prefetched, prefetched_generation=generation
                    )
            else:
                state = await self._spend(key, policy, policy.cost, enforce=True)
        except StoreUnavailable:
            if not request.is_read:
                log.error("store unavailable: write refused (caller limits fail closed)")
                raise
            log.warning("store unavailable: read admitted without a caller limit")
            return await self.inner(request)
        is_allowed, remaining, retry_after_ms, reset_ms = state
        headers = _ratelimit_headers(policy, remaining, reset_ms)
        if not is_allowed:
            error = RateLimited(
                "Too many requests to the proxy; retry after the time given",
                retry_after_s=retry_after_ms / 1000,
            )
            error.headers.update(headers)
            raise error
        response = await self.inner(request)
        response.caller_limit = (policy.limit, remaining, math.ceil(reset_ms / 1000))
        surcharge = self.settings.cost_upstream
        if request.is_read and not response.outcome.is_free and surcharge:
            lease = self._leases.get(key) if leased else None
            if lease is not None and lease.expires > time.monotonic() and lease.units >= surcharge:
                lease.units -= surcharge
                return response
            if lease is not None:
                # Owed, and paid with this caller's next take: a miss costs no round trip
                # of its own (if the caller never comes back, the debt lapses).
                lease.debt += surcharge
                return response
            try:
                await self._spend(key, policy, surcharge, enforce=False)
            except StoreUnavailable:
                log.warning("store unavailable: upstream surcharge not recorded")
        return response

    def _cache_read(self, request: GatewayRequest) -> Callable[[], list[str]] | None:
        """On the REST store, where every command is an HTTPS request, a take also reads
        what the cache lookup will read, so a hit costs one request to Upstash. (Where the
        process hears invalidations, a take is rare enough to stay a round trip of its own.)"""
        if self._subscribing or not is_cacheable(request):
            return None
        return lambda: lookup_keys(request, self.keys, self.settings)[1]

    async def _spend_leased(
        self, key: str, policy: _Policy, cost: int, read: Callable[[], list[str]] | None = None
    ) -> tuple[_State, list[str | None] | None]:
        """Spend from this process's lease, taking a new one when it is used up or old
        (with `read`, in the same round trip as the cache read, whose answer comes back).

        One take per caller at a time in a process. Requests that arrive meanwhile queue on
        it and are served from it in arrival order, so none starves while newcomers spend
        the units; the next take asks for what the queue needed, up to a few leases.
        """
        while True:
            now = time.monotonic()
            state = self._spend_local(key, cost, now)
            if state is not None:
                return state, None
            take = self._taking.get(key)
            if take is None:
                break
            waiter: asyncio.Future[_State | None] = asyncio.get_running_loop().create_future()
            take.waiters.append((cost, waiter))
            state = await asyncio.shield(waiter)
            if state is not None:
                return state, None
        take = _Take()
        self._taking[key] = take
        try:
            state, prefetched = await self._take(key, policy, cost, now, read)
        except Exception as exc:
            for _, waiter in take.waiters:  # the Store failed them too (reads fail open)
                waiter.set_exception(exc)
            raise
        except BaseException:
            for _, waiter in take.waiters:  # the taker was cancelled: one of them takes
                waiter.set_result(None)
            raise
        finally:
            del self._taking[key]
        self._hand_out(key, take, state)
        return state, prefetched

    def _spend_local(self, key: str, cost: int, now: float) -> _State | None:
        lease = self._leases.get(key)
        if lease is None:
            return None
        if lease.blocked_until > now:
            return False, 0, math.ceil((lease.blocked_until - now) * 1000), lease.reset_ms
        if lease.expires > now and lease.units >= cost:
            lease.units -= cost
            return True, lease.remaining + lease.units, 0, lease.reset_ms
        return None

    def _hand_out(self, key: str, take: _Take, state: _State) -> None:
        """Serve the requests queued on a take, in order, from what it brought."""
        lease = self._leases[key]
        lease.demand = min(
            sum(cost for cost, _ in take.waiters), _MAX_LEASES * max(lease.size, self.lease_units)
        )
        for cost, waiter in take.waiters:
            if not state[0]:
                waiter.set_result(state)
            elif lease.units >= cost:
                lease.units -= cost
                waiter.set_result((True, lease.remaining + lease.units, 0, lease.reset_ms))
            else:
                waiter.set_result(None)  # queue again, on the next take

    async def _take(
        self,
        key: str,
        policy: _Policy,
        cost: int,
        now: float,
        read: Callable[[], list[str]] | None,
    ) -> tuple[_State, list[str | None] | None]:
        previous = self._leases.get(key)
        size = self._next_size(previous, policy, now)
        debt = min(previous.debt, size) if previous else 0
        want = max(size, cost + (previous.demand if previous else 0)) + debt
        emission_us = max(1, self.window_us // policy.limit)
        args = [emission_us, self.window_us, want, cost + debt, time.time_ns() // 1000]
        prefetched: list[str | None] | None = None
        if read is None:
            reply = await self.store.eval_script(LEASE, [key], args)
        else:
            # EVAL with the source: a pipeline cannot fall back from EVALSHA's NOSCRIPT.
            reply, prefetched = await self.store.pipeline(
                [("EVAL", LEASE.source, 1, key, *args), ("MGET", *read())]
            )
        taken, remaining, retry_after_ms, reset_ms = (int(value) for value in reply)
        if len(self._leases) >= _LEASES_KEPT:
            self._forget_expired(now)
        if taken == 0:
            blocked = _Lease(0, 0, reset_ms, now, now + retry_after_ms / 1000, debt=debt)
            self._leases[key] = blocked
            return (False, 0, retry_after_ms, reset_ms), None
        units = taken - cost - debt
        self._leases[key] = _Lease(
            units, remaining, reset_ms, now + self.lease_s, size=size, taken_at=now
        )
        return (True, remaining + units, 0, reset_ms), prefetched

    def _next_size(self, previous: _Lease | None, policy: _Policy, now: float) -> int:
        if previous is None or previous.size == 0:
            return self.lease_units
        if previous.units < self.lease_units and now - previous.taken_at < self.lease_s / 2:
            size = previous.size * 2  # spent fast: a caller polling hard
        elif previous.units > 0 and previous.expires <= now:
            size = previous.size // 2  # expired unspent: too large for this caller
        else:
            size = previous.size
        return max(self.lease_units, min(size, policy.limit // _LEASE_SHARE))

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, v in self._leases.items() if max(v.expires, v.blocked_until) <= now]:
            del self._leases[key]

    def spend_remembered(self, identity: Identity) -> tuple[bool, tuple[int, int, int] | None]:
        """A read spent from this process's lease without awaiting, for the hot path:
        (True, (limit, remaining, reset_s) or None when unlimited) when admitted, (False,
        None) when the full stage must decide (no lease, used up, or the caller refused)."""
        limit = (
            self.settings.anonymous_limit if identity.is_anonymous else self.settings.caller_limit
        )
        if limit == 0:
            return True, None
        if self.lease_units == 0:
            return False, None
        key = self.keys.caller_limit("rest", identity.limit_key)
        state = self._spend_local(key, self.settings.cost_read, time.monotonic())
        if state is None or not state[0]:
            return False, None
        return True, (limit, state[1], math.ceil(state[3] / 1000))

    async def admit(self, bucket: str, limit_key: str, limit: int) -> None:
        """One unit of a budget outside the gateway's own (the sign-in routes, per IP),
        by the same script; RateLimited when it is spent. Fails open without the Store."""
        if limit == 0:
            return
        policy = _Policy(bucket, limit, 1)
        try:
            allowed, remaining, retry_after_ms, reset_ms = await self._spend(
                self.keys.caller_limit(bucket, limit_key), policy, 1, enforce=True
            )
        except StoreUnavailable:
            return
        if not allowed:
            error = RateLimited(
                "Too many requests; retry after the time given", retry_after_s=retry_after_ms / 1000
            )
            error.headers.update(_ratelimit_headers(policy, remaining, reset_ms))
            raise error

    async def _spend(
        self, key: str, policy: _Policy, cost: int, *, enforce: bool
    ) -> tuple[bool, int, int, int]:
        emission_us = max(1, self.window_us // policy.limit)
        allowed, remaining, retry_after_ms, reset_ms = await self.store.eval_script(
            GCRA,
            [key],
            [emission_us, self.window_us, cost, 1 if enforce else 0, time.time_ns() // 1000],
        )
        return bool(int(allowed)), int(remaining), int(retry_after_ms), int(reset_ms)


def _ratelimit_headers(policy: _Policy, remaining: int, reset_ms: int) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(policy.limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(math.ceil(reset_ms / 1000)),
    }
