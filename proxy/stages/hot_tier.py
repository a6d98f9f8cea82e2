"""Answers fresh hits from process memory (L1), before the shared cache is asked.

An L1 hit makes no Store call at all (its caller limit comes from a lease). What the
shared cache served fresh, revalidated or fetched is kept here until its own fresh window
ends, it is invalidated, or — when no invalidation can reach this process (the REST
store, or the subscription is down) — `HUBBUB_L1_TTL` passes. See proxy/hot_cache.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from proxy import clock
from proxy.cache_key import cache_key
from proxy.hot_cache import HotCache
from proxy.messages import CacheOutcome, GatewayRequest, GatewayResponse, Handler
from proxy.scopes import stamp_scopes
from proxy.stages.cache_lookup import is_cacheable, wants_revalidation
from shared.config import Settings

_KEPT = frozenset({CacheOutcome.HIT, CacheOutcome.REVALIDATED, CacheOutcome.MISS})


class HotTier:
    def __init__(
        self,
        inner: Handler,
        cache: HotCache,
        settings: Settings,
        *,
        subscribed: Callable[[], bool],
    ) -> None:
        self.inner = inner
        self.cache = cache
        self.settings = settings
        self.subscribed = subscribed
        self.ttl_ms = settings.l1_ttl_s * 1000
        self.settle_ms = settings.invalidation_settle_s * 1000

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        if not is_cacheable(request):
            return await self.inner(request)
        key = cache_key(request, self.settings.github_api_version)
        now = clock.now_ms()
        hot = None if wants_revalidation(request) else self.cache.get(key, now)
        if hot is not None:
            response = hot.entry.to_response(CacheOutcome.HIT, now)
            response.shaped = hot.shaped
            return response
        # An answer read before an invalidation is never kept; one the caller-limit stage
        # read with its lease take was read before that stage noted the generation.
        generation = (
            self.cache.generation if request.prefetched is None else request.prefetched_generation
        )
        response = await self.inner(dataclasses.replace(request, cache_key=key))
        entry = response.entry
        if entry is not None and response.outcome in _KEPT:
            now = clock.now_ms()
            expires = entry.fresh_until_ms(self.settings.fresh_s_for(request.path), self.settle_ms)
            if not self.subscribed():
                expires = min(expires, now + self.ttl_ms)
            if expires > now:
                self.cache.put(key, entry, stamp_scopes(request.path), expires, generation)
        return response
