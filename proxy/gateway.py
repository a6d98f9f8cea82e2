"""The GitHub gateway: the pipeline of stages, assembled here and nowhere else.

Read top to bottom, a request passes the stages in this order; an answer comes back up
through them. Realtime and MCP call the same object in process, so every layer shares
one cache, one set of budgets and one invalidation scheme.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import httpx

from proxy.access import Access
from proxy.github_app import InstallationTokenMint
from proxy.github_user import GitHubUsers
from proxy.hot_cache import HotCache
from proxy.messages import GatewayRequest, GatewayResponse, Handler
from proxy.metrics import GatewayMetrics, Measure
from proxy.stages.cache_lookup import CacheLookup
from proxy.stages.caller_limit import CallerLimit
from proxy.stages.guard import Guard
from proxy.stages.hot_tier import HotTier
from proxy.stages.invalidate import Invalidate, Invalidator
from proxy.stages.retry import Retry
from proxy.stages.revalidate import Revalidate
from proxy.stages.shaping import Shaping
from proxy.stages.single_flight import SingleFlight
from proxy.stages.upstream import Upstream
from proxy.stages.upstream_protection import UpstreamProtection
from proxy.stages.write_serializer import WriteSerializer
from shared.config import Settings
from shared.errors import StoreError
from shared.identity import CallerResolver
from shared.store import Store, SubscribingStore
from shared.store.keys import Keys

log = logging.getLogger("hubbub.gateway")

_RESUBSCRIBE_S = 1.0
# On the invalidation channel, beside cache scopes: a Hubbub session that has ended.
_SESSION = "session:"


def _scopes(message: str) -> list[str]:
    try:
        scopes = json.loads(message)
    except ValueError:
        return []
    return [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else []


class Gateway:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        # How this process reaches GitHub; OAuth exchanges go the same way.
        self.transport = transport
        self.metrics = GatewayMetrics()
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(settings.upstream_timeout_s),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        keys = Keys(settings.key_prefix)
        self.keys = keys
        self.invalidator = Invalidator(store, keys, settings.cache_ttl_s)
        self.hot = HotCache(max_entries=settings.l1_max_entries, max_bytes=settings.l1_max_bytes)
        self.invalidator.local.append(self.hot.drop_scopes)
        # True while this process hears every invalidation (see `start`).
        self.subscribed = False
        self._listener: asyncio.Task[None] | None = None

        handler: Handler = Upstream(self.client, settings)
        handler = UpstreamProtection(handler, store, keys, settings)
        handler = Retry(
            handler, retries=settings.upstream_retries, backoff_ms=settings.retry_backoff_ms
        )
        handler = WriteSerializer(handler, store, keys, settings)
        handler = Revalidate(handler, store, keys, settings)
        handler = self.single_flight = SingleFlight(handler, store, keys, settings)
        handler = CacheLookup(handler, store, keys, settings)
        handler = Invalidate(handler, self.invalidator)
        if settings.l1_ttl_s > 0:
            handler = HotTier(handler, self.hot, settings, subscribed=lambda: self.subscribed)
        handler = self.caller_limit = CallerLimit(
            handler, store, keys, settings, generation=lambda: self.hot.generation
        )
        handler = Measure(handler, self.metrics)
        handler = Shaping(handler, settings.github_api_url)
        self._handle: Handler = Guard(handler)
        # Identity (design §4, step 2) and access decisions, for every layer.
        self.callers = CallerResolver(
            settings, store, keys, GitHubUsers(self), InstallationTokenMint(self)
        )
        self.access = Access(self)

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        return await self._handle(request)

    async def start(self) -> None:
        """Hear the fleet's invalidations, so in-process entries live their full fresh
        window; without it (serverless, REST store) they live at most HUBBUB_L1_TTL."""
        if self._listener is not None:
            return
        if self.settings.l1_ttl_s > 0 and isinstance(self.store, SubscribingStore):
            ready = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(self.store, ready))
            async with asyncio.timeout(self.settings.store_timeout_ms / 1000 + 1):
                await ready.wait()

    async def _listen(self, store: SubscribingStore, ready: asyncio.Event) -> None:
        channel = self.keys.invalidation_channel()
        while True:
            try:
                async with store.subscribe(channel) as messages:
                    # Whatever was kept while nobody listened may have missed a change.
                    self.hot.clear()
                    self.subscribed = True
                    ready.set()
                    async for _, message in messages:
                        scopes = _scopes(message)
                        for scope in scopes:
                            if scope.startswith(_SESSION):
                                self.callers.forget_session(scope[len(_SESSION) :])
                        self.hot.drop_scopes(scopes)
            except StoreError:
                log.warning("invalidation subscription lost; in-process entries now short-lived")
            finally:
                self.subscribed = False
            ready.set()
            await asyncio.sleep(_RESUBSCRIBE_S)

    async def end_session(self, session_id: str) -> None:
        """A session ended (logout, reused refresh token): refused here at once, and on
        every process that hears invalidations as soon as this announcement reaches it
        (the others re-read sessions within a second anyway)."""
        self.callers.forget_session(session_id)
        try:
            await self.store.publish(
                self.keys.invalidation_channel(), json.dumps([_SESSION + session_id])
            )
        except StoreError:
            log.warning("store unavailable: a session's end was not announced")

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(2):
                    await self._listener
            self._listener = None
        await self.client.aclose()
