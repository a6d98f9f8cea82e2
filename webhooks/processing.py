"""Applying an event: the scopes stored with it, under every name its repository has had.

The receiver applies each event right after storing it; the persistent layer's consumer
group applies every stored event again as the durable backstop (a serverless instance may
die between answering GitHub and invalidating). Applying twice only bumps versions twice:
entries revalidate once more, at no rate-limit cost.
"""

from __future__ import annotations

from collections.abc import Iterable

from proxy import Invalidator
from shared.events import Envelope, EventBus, StreamEntry
from webhooks.invalidation import renamed


class Processor:
    def __init__(self, invalidator: Invalidator, bus: EventBus) -> None:
        self.invalidator = invalidator
        self.bus = bus

    async def apply(
        self, envelope: Envelope, scopes: Iterable[str], names: Iterable[str] | None = None
    ) -> list[str]:
        """Invalidate; answers the scopes bumped. `names` saves a read when already known."""
        result = list(scopes)
        if not result:
            return []
        repository = envelope.repository
        if repository is not None:
            if names is None:
                names = await self.bus.repository_names(repository.id)
            result = renamed(result, repository.full_name, names)
        await self.invalidator.invalidate(result)
        return result

    async def __call__(self, entry: StreamEntry) -> None:
        """The consumer group's handler."""
        await self.apply(entry.envelope, entry.scopes)
