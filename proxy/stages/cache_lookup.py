"""Answers fresh hits from the shared cache; everything else goes on with the entry attached.

One Store round trip: the entry and its scopes' versions in a single MGET, or none when
the caller-limit stage already read them in its own round trip (`prefetched`). Writes,
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

UNCACHED_PATHS = frozenset({"/rate_limit", "/graphql"})


def is_cacheable(request: GatewayRequest) -> bool:
    return request.is_read and request.path not in UNCACHED_PATHS


def wants_revalidation(request: GatewayRequest) -> bool:
    """`Cache-Control: no-cache` from the caller: a fresh entry is not enough, GitHub must
    confirm it (for free when it is unchanged), and if GitHub fails the caller hears the
    failure, never a stale copy. Realtime asks this right before it writes an issue back
    to GitHub, which has no precondition on edits."""
    return "no-cache" in request.headers.get("cache-control", "")


def lookup_keys(request: GatewayRequest, keys: Keys, settings: Settings) -> tuple[str, list[str]]:
    """The cache key, and what the lookup reads: the entry and its scopes' versions."""
    key = request.cache_key or cache_key(request, settings.github_api_version)
    versions = [keys.scope_version(scope) for scope in stamp_scopes(request.path)]
    return key, [keys.cache_entry(key), *versions]


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
        key, read = lookup_keys(request, self.keys, self.settings)
        if request.prefetched is not None:
            stored, *versions = request.prefetched
        else:
            try:
                stored, *versions = await self.store.mget(read)
            except StoreUnavailable:
                log.warning("store unavailable: serving without the cache")
                return await self.inner(request)
        entry = CacheEntry.decode(stored)
        stamp = stamp_of(versions)
        now = clock.now_ms()
        if (
            entry is not None
            and not wants_revalidation(request)
            and entry.is_fresh(now, self.settings.fresh_s_for(request.path), stamp, self.settle_ms)
        ):
            return entry.to_response(CacheOutcome.HIT, now)
        return await self.inner(
            dataclasses.replace(request, cache_key=key, cached=entry, stamp=stamp)
        )
