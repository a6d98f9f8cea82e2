"""After a successful write, marks stale every cached entry the write may have changed."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

from proxy import clock
from proxy.messages import GatewayRequest, GatewayResponse, Handler
from proxy.scopes import write_scopes
from shared.errors import StoreUnavailable
from shared.events import Bump
from shared.store import Store, load_script
from shared.store.keys import Keys

log = logging.getLogger("hubbub.invalidate")

BUMP = load_script("scope_bump")


class Invalidator:
    """Bumps scope versions; webhooks use the same object for GitHub-side changes.

    The bump and the announcement on the invalidation channel (for caches held in process
    memory) go in one round trip.
    """

    def __init__(self, store: Store, keys: Keys, ttl_s: int) -> None:
        self.store = store
        self.keys = keys
        # A version must outlive every entry stamped with it.
        self.ttl_ms = ttl_s * 1000
        # Told of every change this process makes, before Redis is: the in-process tier.
        self.local: list[Callable[[list[str]], object]] = []

    def notify_local(self, scopes: list[str]) -> None:
        for listener in self.local:
            listener(scopes)

    def bump(self) -> Bump:
        """The arguments for bumping scopes inside another script (the event append)."""
        return Bump(clock.now_ms(), self.ttl_ms)

    async def invalidate(self, scopes: Iterable[str]) -> None:
        unique = list(dict.fromkeys(scopes))
        if not unique:
            return
        self.notify_local(unique)
        keys = [self.keys.scope_version(scope) for scope in unique]
        await self.store.pipeline(
            [
                # EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT, and it is short.
                ("EVAL", BUMP.source, len(keys), *keys, clock.now_ms(), self.ttl_ms),
                ("PUBLISH", self.keys.invalidation_channel(), json.dumps(unique)),
            ]
        )


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
