"""SIGTERM without dropping anyone on the floor.

uvicorn answers SIGTERM by closing every websocket at once (code 1012) before the app's
lifespan hears of it, so a drain must run before uvicorn starts to stop. `DrainingServer`
turns the first SIGTERM or SIGINT into: drain every hub in this process (readiness off,
`server:draining`, paced disconnects, presence removed), then uvicorn's usual shutdown.
A second signal stops at once.

Hubs register themselves in `running_hubs` while their lifespan runs: uvicorn builds the
app from a factory, so the server never holds the hub itself.
"""

from __future__ import annotations

import asyncio
import logging
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

if TYPE_CHECKING:
    from realtime.hub import Hub

log = logging.getLogger("hubbub.realtime")

running_hubs: set[Hub] = set()


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._drain: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain is None and running_hubs and not self.should_exit:
            self._drain = asyncio.get_running_loop().create_task(self._drain_then_exit(sig, frame))
            return
        if self._drain is not None and not self._drain.done():
            # A second signal during the drain: stop now, without uvicorn's grace period.
            self._drain.cancel()
            self.force_exit = True
        super().handle_exit(sig, frame)

    async def _drain_then_exit(self, sig: int, frame: FrameType | None) -> None:
        try:
            await asyncio.gather(*(hub.drain() for hub in list(running_hubs)))
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("drain failed; stopping anyway")
        super().handle_exit(sig, frame)
