"""Asks GitHub for what the cache cannot answer, conditionally when it holds an old entry.

A 304 costs no primary rate limit: the entry is re-stamped, GitHub's new rate-limit
headers are merged in, and the caller gets the stored body (REVALIDATED). A 200 replaces
the entry (MISS). When GitHub fails or the token is penalised, the caller's own entry is
served if it is not older than `stale_max_s` (STALE). Only 200s with a validator and a
body under the size cap are stored; errors and 404s never are, so nothing negative is
shared, not even within a partition.
"""

from __future__ import annotations

import dataclasses
import logging

from proxy import clock
from proxy.cache_entry import CacheEntry
from proxy.headers import merge_304
from proxy.messages import CacheOutcome, GatewayRequest, GatewayResponse, Handler
from proxy.stages.cache_lookup import wants_revalidation
from shared.config import Settings
from shared.errors import RateLimited, StoreUnavailable, UpstreamUnavailable
from shared.store import Store
from shared.store.keys import Keys

log = logging.getLogger("hubbub.cache")


class Revalidate:
    def __init__(self, inner: Handler, store: Store, keys: Keys, settings: Settings) -> None:
        self.inner = inner
        self.store = store
        self.keys = keys
        self.ttl_ms = settings.cache_ttl_s * 1000
        self.stale_max_s = settings.stale_max_s
        self.max_body_bytes = settings.cache_max_body_bytes

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        if request.cache_key is None:
            return await self.inner(request)
        entry = request.cached
        validators: dict[str, str] = {}
        if entry is not None and entry.etag:
            validators["if-none-match"] = entry.etag
        elif entry is not None and entry.last_modified:
            validators["if-modified-since"] = entry.last_modified
        try:
            response = await self.inner(dataclasses.replace(request, validators=validators))
        except (UpstreamUnavailable, RateLimited):
            stale = self._stale(request, entry)
            if stale is None:
                raise
            return stale
        now = clock.now_ms()
        if response.status == 304 and entry is not None:
            refreshed = dataclasses.replace(
                entry,
                headers=merge_304(entry.headers, response.headers),
                validated_ms=now,
                stamp=request.stamp,
            )
            await self._save(request, refreshed)
            return refreshed.to_response(CacheOutcome.REVALIDATED, now)
        if response.status >= 500:
            return self._stale(request, entry) or response
        if self._is_storable(response):
            stored = CacheEntry.from_response(response, now, request.stamp)
            await self._save(request, stored)
            response.entry = stored
        return response

    def _stale(self, request: GatewayRequest, entry: CacheEntry | None) -> GatewayResponse | None:
        """The old entry, when GitHub fails; never for a caller who asked for GitHub's
        confirmation (`no-cache`), which must hear the failure instead."""
        now = clock.now_ms()
        if entry is None or entry.age_s(now) > self.stale_max_s or wants_revalidation(request):
            return None
        return entry.to_response(CacheOutcome.STALE, now)

    def _is_storable(self, response: GatewayResponse) -> bool:
        return (
            response.status == 200
            and len(response.body) <= self.max_body_bytes
            and (response.header("etag") or response.header("last-modified")) is not None
        )

    async def _save(self, request: GatewayRequest, entry: CacheEntry) -> None:
        assert request.cache_key is not None
        key = self.keys.cache_entry(request.cache_key)
        if request.batch is not None:  # written with the call's other writes, at once
            request.batch.commands.append(("SET", key, entry.encode(), "PX", self.ttl_ms))
            return
        try:
            await self.store.set(key, entry.encode(), px=self.ttl_ms)
        except StoreUnavailable:
            log.warning("store unavailable: answer not cached")
