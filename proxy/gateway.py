"""The GitHub gateway: the pipeline of stages, assembled here and nowhere else.

Read top to bottom, a request passes the stages in this order; an answer comes back up
through them. Realtime and MCP call the same object in process, so every layer shares
one cache, one set of budgets and one invalidation scheme.
"""

from __future__ import annotations

import httpx

from proxy.messages import GatewayRequest, GatewayResponse, Handler
from proxy.metrics import GatewayMetrics, Measure
from proxy.stages.cache_lookup import CacheLookup
from proxy.stages.caller_limit import CallerLimit
from proxy.stages.guard import Guard
from proxy.stages.invalidate import Invalidate, Invalidator
from proxy.stages.retry import Retry
from proxy.stages.revalidate import Revalidate
from proxy.stages.shaping import Shaping
from proxy.stages.single_flight import SingleFlight
from proxy.stages.upstream import Upstream
from proxy.stages.upstream_protection import UpstreamProtection
from proxy.stages.write_serializer import WriteSerializer
from shared.config import Settings
from shared.store import Store
from shared.store.keys import Keys


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
        self.metrics = GatewayMetrics()
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(settings.upstream_timeout_s),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        keys = Keys(settings.key_prefix)
        self.invalidator = Invalidator(store, keys, settings.cache_ttl_s)

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
        handler = CallerLimit(handler, store, keys, settings)
        handler = Measure(handler, self.metrics)
        handler = Shaping(handler, settings.github_api_url)
        self._handle: Handler = Guard(handler)

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        return await self._handle(request)

    async def aclose(self) -> None:
        await self.client.aclose()
