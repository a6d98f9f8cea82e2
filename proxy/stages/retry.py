"""Retries idempotent reads on connect errors, timeouts and 502/503/504; never a write.

At most `upstream_retries` more attempts, with jittered exponential backoff: GitHub's
bad minutes are usually seconds, and a write retried blindly can be applied twice.
"""

from __future__ import annotations

import asyncio
import random

from proxy.messages import GatewayRequest, GatewayResponse, Handler
from shared.errors import UpstreamUnavailable

_RETRIED_STATUSES = frozenset({502, 503, 504})


class Retry:
    def __init__(self, inner: Handler, *, retries: int, backoff_ms: int) -> None:
        self.inner = inner
        self.retries = retries
        self.backoff_ms = backoff_ms

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        if not request.is_read:
            return await self.inner(request)
        for attempt in range(self.retries + 1):
            is_last = attempt == self.retries
            try:
                response = await self.inner(request)
            except UpstreamUnavailable as exc:
                if is_last or exc.code == "redirect_refused":
                    raise
            else:
                if is_last or response.status not in _RETRIED_STATUSES:
                    return response
            await asyncio.sleep(self._delay_s(attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _delay_s(self, attempt: int) -> float:
        return self.backoff_ms * (2**attempt) * random.uniform(0.5, 1.5) / 1000
