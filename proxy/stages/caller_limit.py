"""Each caller's own budget at the proxy: GCRA in one Lua script, on Redis's clock.

Callers are the hash of their credential (client IP only when anonymous). A read costs
`cost_read` up front; one that GitHub had to answer in full (MISS) is surcharged
`cost_upstream` afterwards, never refused for it; a write costs `cost_write`. GraphQL
spends its own bucket. If the Store is unreachable, reads go on (fail open) and writes
are refused (fail closed): a lost limit on a read costs little, on a write it may spend
someone's GitHub budget on a burst. Both are logged.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from proxy.messages import GatewayRequest, GatewayResponse, Handler
from shared.config import Settings
from shared.errors import RateLimited, StoreUnavailable
from shared.store import Store, load_script
from shared.store.keys import Keys

log = logging.getLogger("hubbub.limit")

GCRA = load_script("caller_limit")


@dataclass(frozen=True)
class _Policy:
    bucket: str
    limit: int
    cost: int


class CallerLimit:
    def __init__(self, inner: Handler, store: Store, keys: Keys, settings: Settings) -> None:
        self.inner = inner
        self.store = store
        self.keys = keys
        self.settings = settings
        self.window_us = settings.caller_window_s * 1_000_000

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
        try:
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
        if request.is_read and not response.outcome.is_free and self.settings.cost_upstream:
            try:
                await self._spend(key, policy, self.settings.cost_upstream, enforce=False)
            except StoreUnavailable:
                log.warning("store unavailable: upstream surcharge not recorded")
        return response

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
