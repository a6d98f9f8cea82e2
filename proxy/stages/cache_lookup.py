"""Answers fresh hits from the shared cache; everything else goes on with the entry attached.

One Store round trip: the entry and its scope's change counter in a single MGET. Writes,
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
from proxy.scopes import read_scope
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

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        if not is_cacheable(request):
            return await self.inner(request)
        key = cache_key(request, self.settings.github_api_version)
        try:
            stored, version = await self.store.mget(
                [self.keys.cache_entry(key), self.keys.scope_version(read_scope(request.path))]
            )
        except StoreUnavailable:
            log.warning("store unavailable: serving without the cache")
            return await self.inner(request)
        entry = CacheEntry.decode(stored)
        version = version or "0"
        now = clock.now_ms()
        if entry is not None and entry.is_fresh(
            now, self.settings.fresh_s_for(request.path), version
        ):
            return entry.to_response(CacheOutcome.HIT, now)
        return await self.inner(
            dataclasses.replace(request, cache_key=key, cached=entry, scope_version=version)
        )
