"""Answers fresh hits from the shared cache; everything else goes on with the entry attached.

One Store round trip: the entry and its scopes' versions in a single MGET. Writes,
GraphQL and `/rate_limit` (GitHub does not charge for it, and it must be current) are
not looked up at all.
"""

from __future__ import annotations

import dataclasses
import logging

from proxy import clock
from proxy.cache_entry import CacheEntry
from proxy.cache_key import cache_key
from proxy.messages import CacheOutcome, GatewayRequest, GatewayResponse, Handler
from proxy.scopes import stamp_of, stamp_scopes
from shared.config import Settings
from shared.errors import StoreUnavailable
from shared.store import Store
from shared.store.keys import Keys

log = logging.getLogger("hubbub.cache")

_UNCACHED_PATHS = frozenset({"/rate_limit", "/graphql"})


def is_cacheable(request: GatewayRequest) -> bool:
    return request.is_read and request.path not in _UNCACHED_PATHS


class CacheLookup:
    def __init__(self, inner: Handler, store: Store, keys: Keys, settings: Settings) -> None:
        self.inner = inner
        self.store = store
        self.keys = keys
        self.settings = settings
        self.settle_ms = settings.invalidation_settle_s * 1000

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        if not is_cacheable(request):
            return await self.inner(request)
        key = request.cache_key or cache_key(request, self.settings.github_api_version)
        version_keys = [self.keys.scope_version(scope) for scope in stamp_scopes(request.path)]
        try:
            stored, *versions = await self.store.mget([self.keys.cache_entry(key), *version_keys])
        except StoreUnavailable:
            log.warning("store unavailable: serving without the cache")
            return await self.inner(request)
        entry = CacheEntry.decode(stored)
        stamp = stamp_of(versions)
        now = clock.now_ms()
        if entry is not None and entry.is_fresh(
            now, self.settings.fresh_s_for(request.path), stamp, self.settle_ms
        ):
            return entry.to_response(CacheOutcome.HIT, now)
        return await self.inner(
            dataclasses.replace(request, cache_key=key, cached=entry, stamp=stamp)
        )
