"""Hearing a pub/sub channel for as long as the process lives.

Several parts of the persistent layer follow one channel each and hand every message to a
callback (MCP resource changes, MCP agents' handles). Pub/sub loses what is published
while nobody listens, so each of them resubscribes after a dropped connection and lives
with the gap, which its own design covers; this holds the loop they share.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from shared.errors import StoreError
from shared.store.protocol import SubscribingStore

log = logging.getLogger("hubbub.store")

RESUBSCRIBE_S = 1.0


class ChannelFollower:
    """Calls `hear(message)` for every message on `channel`, from `start()` to `stop()`."""

    def __init__(
        self, store: SubscribingStore, channel: str, hear: Callable[[str], None], name: str
    ) -> None:
        self.store = store
        self.channel = channel
        self.hear = hear
        self.name = name
        self._task: asyncio.Task[None] | None = None

    async def start(self, wait_s: float = 2.0) -> None:
        """Subscribed (or given up waiting after `wait_s`) when this returns."""
        if self._task is not None:
            return
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._follow(ready), name=self.name)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await ready.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self, ready: asyncio.Event) -> None:
        while True:
            try:
                async with self.store.subscribe(self.channel) as messages:
                    ready.set()
                    async for _, message in messages:
                        self.hear(message)
            except StoreError:
                log.warning("%s: channel lost; resubscribing", self.name)
            except Exception:
                log.exception("%s: channel listener failed; restarting it", self.name)
            ready.set()
            await asyncio.sleep(RESUBSCRIBE_S)
