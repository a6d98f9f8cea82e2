"""One write at a time per GitHub token, fleet-wide, about a second apart.

GitHub asks integrations to make mutations serially and to wait at least a second
between them; its secondary limits punish bursts. The lease is one `SET NX`; it is kept
until `write_spacing_ms` after the write started, so the next writer waits out the gap.
Writes fail closed: without the Store there is no way to keep them apart.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from proxy.messages import GatewayRequest, GatewayResponse, Handler
from shared.config import Settings
from shared.errors import StoreUnavailable, UpstreamUnavailable
from shared.store import Store, load_script
from shared.store.keys import Keys

log = logging.getLogger("hubbub.writes")

RELEASE = load_script("lease_release")

_WAIT_LIMIT_S = 30.0


class WriteSerializer:
    def __init__(self, inner: Handler, store: Store, keys: Keys, settings: Settings) -> None:
        self.inner = inner
        self.store = store
        self.keys = keys
        self.spacing_ms = settings.write_spacing_ms
        self.hold_ms = int(settings.upstream_timeout_s * 1000) + self.spacing_ms + 5000

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        if request.is_read or request.path == "/graphql":
            return await self.inner(request)
        lock = self.keys.write_lock(request.identity.token_hash)
        owner = secrets.token_hex(8)
        await self._acquire(lock, owner)
        started = time.monotonic()
        try:
            return await self.inner(request)
        finally:
            elapsed_ms = int((time.monotonic() - started) * 1000)
            # Keep the lease for the rest of the spacing; the next writer waits it out.
            try:
                await self.store.eval_script(
                    RELEASE, [lock], [owner, max(0, self.spacing_ms - elapsed_ms)]
                )
            except StoreUnavailable:
                log.warning("store unavailable: write lease left to expire")

    async def _acquire(self, lock: str, owner: str) -> None:
        deadline = time.monotonic() + _WAIT_LIMIT_S
        delay_s = 0.01
        while not await self.store.set(lock, owner, px=self.hold_ms, nx=True):
            if time.monotonic() + delay_s > deadline:
                raise UpstreamUnavailable(
                    "Another write with this token is still in progress",
                    status=503,
                    code="write_busy",
                    retry_after_s=1,
                )
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 0.2)
