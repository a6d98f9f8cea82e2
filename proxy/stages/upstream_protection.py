"""Guards each GitHub token's budget, fleet-wide, before and after every upstream call.

Before: a token in the penalty box is not sent to GitHub at all (GitHub warns that
calling on while limited can get an integration banned), and at most
`upstream_concurrency` calls per token are in flight across every instance. After: the
`x-ratelimit-*` headers are remembered per token and resource, a spent budget boxes the
resource until its reset, and a secondary limit boxes the whole token for `retry-after`
(60 s when GitHub gives none, as Octokit does). Both steps are one Lua script each.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from proxy.messages import (
    FlightClaim,
    GatewayRequest,
    GatewayResponse,
    Handler,
    NotLeader,
    StoreBatch,
)
from shared.config import Settings
from shared.errors import RateLimited, StoreUnavailable, UpstreamUnavailable
from shared.store import Store, load_script
from shared.store.keys import Keys

log = logging.getLogger("hubbub.protection")

ADMIT = load_script("upstream_admit")
DONE = load_script("upstream_done")

_ADMITTED, _PENALISED, _NOT_LEADER = 0, 1, 3


def resource_for(path: str) -> str:
    """GitHub's rate-limit resource a path spends, as `x-ratelimit-resource` names it."""
    if path == "/graphql":
        return "graphql"
    if path.startswith("/search/code"):
        return "code_search"
    if path.startswith("/search/"):
        return "search"
    return "core"


def _is_secondary_limit(response: GatewayResponse) -> bool:
    if response.status not in (403, 429):
        return False
    if response.header("x-ratelimit-remaining") == "0":
        return False
    return response.header("retry-after") is not None or b"secondary rate limit" in (
        response.body[:2048].lower()
    )


class UpstreamProtection:
    def __init__(self, inner: Handler, store: Store, keys: Keys, settings: Settings) -> None:
        self.inner = inner
        self.store = store
        self.keys = keys
        self.capacity = settings.upstream_concurrency
        self.slot_lease_ms = int(settings.upstream_timeout_s * 1000) + 5000
        self.wait_limit_s = settings.upstream_timeout_s
        self.penalty_default_s = settings.penalty_default_s

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        token = request.identity.token_hash
        resource = resource_for(request.path)
        slot = secrets.token_hex(8)
        is_admitted = await self._admit(token, resource, slot, request.flight)
        try:
            response = await self.inner(request)
        except BaseException:
            if is_admitted:
                await self._release(token, slot)
            raise
        penalty_s = await self._record(
            token, resource, slot if is_admitted else "", response, request.batch
        )
        if penalty_s is not None:
            raise RateLimited(
                "GitHub's rate limit for this token is spent; retry later",
                retry_after_s=penalty_s,
                code="upstream_rate_limited",
            )
        return response

    async def _admit(
        self, token: str, resource: str, slot: str, flight: FlightClaim | None
    ) -> bool:
        """True once a slot is held (and the flight lease, when single flight passed one);
        False when the Store is down (reads fail open); NotLeader when another call for
        the same answer holds the flight lease."""
        deadline = time.monotonic() + self.wait_limit_s
        delay_s = 0.01
        keys = [
            self.keys.token_penalty(token),
            self.keys.resource_penalty(token, resource),
            self.keys.upstream_slots(token),
        ]
        flight_args: list[str | int] = []
        if flight is not None:
            keys.append(flight.lease)
            flight_args = [flight.owner, flight.lease_ms]
        while True:
            try:
                status, wait_ms = await self.store.eval_script(
                    ADMIT,
                    keys,
                    [
                        slot,
                        self.capacity,
                        self.slot_lease_ms,
                        int(time.time() * 1000),
                        *flight_args,
                    ],
                )
            except StoreUnavailable:
                log.warning("store unavailable: calling GitHub without the fleet-wide guard")
                return False
            if status == _NOT_LEADER:
                raise NotLeader
            if status == _ADMITTED:
                return True
            if status == _PENALISED:
                raise RateLimited(
                    "GitHub's rate limit for this token is spent; retry later",
                    retry_after_s=int(wait_ms) / 1000,
                    code="upstream_rate_limited",
                )
            if time.monotonic() + delay_s > deadline:
                raise UpstreamUnavailable(
                    "Too many GitHub calls in flight for this token",
                    status=503,
                    code="upstream_busy",
                    retry_after_s=1,
                )
            await asyncio.sleep(min(delay_s, int(wait_ms) / 1000))
            delay_s = min(delay_s * 2, 0.25)

    async def _release(self, token: str, slot: str) -> None:
        try:
            await self.store.zrem(self.keys.upstream_slots(token), slot)
        except StoreUnavailable:
            log.warning("store unavailable: slot left to expire")

    async def _record(
        self,
        token: str,
        resource: str,
        slot: str,
        response: GatewayResponse,
        batch: StoreBatch | None,
    ) -> float | None:
        """Remember GitHub's budget; the penalty in seconds when the token must now wait."""
        resource = response.header("x-ratelimit-resource") or resource
        limit = response.header("x-ratelimit-limit") or ""
        remaining = response.header("x-ratelimit-remaining") or ""
        reset = response.header("x-ratelimit-reset") or "0"
        now_s = time.time()
        resource_penalty_ms = token_penalty_ms = 0
        if remaining == "0" and reset.isdigit():
            # The budget is gone: nothing for this resource until GitHub resets it.
            resource_penalty_ms = max(1000, int((int(reset) - now_s + 1) * 1000))
        if _is_secondary_limit(response):
            retry_after = response.header("retry-after") or ""
            seconds = int(retry_after) if retry_after.isdigit() else self.penalty_default_s
            token_penalty_ms = max(1000, seconds * 1000)
        budget_ttl_ms = max(1000, int((int(reset) - now_s) * 1000)) if reset.isdigit() else 3600_000
        keys = [
            self.keys.upstream_slots(token),
            self.keys.token_budget(token, resource),
            self.keys.resource_penalty(token, resource),
            self.keys.token_penalty(token),
        ]
        args = [slot, limit, remaining, reset, budget_ttl_ms, resource_penalty_ms, token_penalty_ms]
        if batch is not None and not (resource_penalty_ms or token_penalty_ms):
            # Nothing urgent: sent with the rest of the call's writes, in one round trip.
            batch.commands.append(("EVAL", DONE.source, len(keys), *keys, *args))
        else:
            try:
                await self.store.eval_script(DONE, keys, args)
            except StoreUnavailable:
                log.warning("store unavailable: GitHub's rate-limit state not recorded")
        penalty_ms = max(token_penalty_ms, resource_penalty_ms if response.status >= 400 else 0)
        if penalty_ms:
            log.warning(
                "token penalised for %ss on %s (GitHub answered %s)",
                penalty_ms // 1000,
                resource,
                response.status,
            )
            return penalty_ms / 1000
        return None
