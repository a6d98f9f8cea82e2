"""After a successful write, marks stale every cached entry the write may have changed."""

from __future__ import annotations

import logging

from proxy.messages import GatewayRequest, GatewayResponse, Handler
from proxy.scopes import write_scopes
from shared.errors import StoreUnavailable
from shared.store import Store
from shared.store.keys import Keys

log = logging.getLogger("hubbub.invalidate")


class Invalidator:
    """Bumps scope counters; webhooks use the same object for GitHub-side changes."""

    def __init__(self, store: Store, keys: Keys, ttl_s: int) -> None:
        self.store = store
        self.keys = keys
        self.ttl_ms = ttl_s * 1000

    async def invalidate(self, scopes: list[str]) -> None:
        commands: list[tuple[str | int, ...]] = []
        for scope in scopes:
            key = self.keys.scope_version(scope)
            # The counter must outlive every entry stamped with it.
            commands += [("INCR", key), ("PEXPIRE", key, self.ttl_ms)]
        await self.store.pipeline(commands)


class Invalidate:
    def __init__(self, inner: Handler, invalidator: Invalidator) -> None:
        self.inner = inner
        self.invalidator = invalidator

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        response = await self.inner(request)
        if not request.is_read and request.path != "/graphql" and 200 <= response.status < 300:
            try:
                await self.invalidator.invalidate(write_scopes(request.path))
            except StoreUnavailable:
                # Entries stay served for at most their fresh window; say so.
                log.warning("store unavailable: cache not invalidated after a write")
        return response
