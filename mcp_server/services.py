"""What the tools and resources use: the gateway, the caller, the event log, the live rooms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mcp.server.subscriptions import ResourceUpdated

from mcp_server.auth import Callers
from mcp_server.github import GitHub
from mcp_server.live import LiveRooms
from mcp_server.subscriptions import StoreSubscriptionBus
from proxy.gateway import Gateway
from shared.config import Settings
from shared.events import EventBus


@dataclass
class Services:
    settings: Settings
    gateway: Callable[[], Gateway]
    github: GitHub
    callers: Callers
    bus: StoreSubscriptionBus
    live: LiveRooms | None = None  # the persistent server's rooms; absent on stdio alone

    @property
    def cap(self) -> int:
        return self.settings.mcp_result_max_chars

    async def changed(self, uri: str) -> None:
        """Tell every subscriber, on every machine, that `uri` changed."""
        await self.bus.publish(ResourceUpdated(uri=uri))

    @property
    def events(self) -> EventBus:
        gateway = self.gateway()
        return EventBus(
            gateway.store,
            gateway.keys,
            stream_maxlen=self.settings.event_stream_maxlen,
            repository_maxlen=self.settings.repository_stream_maxlen,
        )
