"""Applying an event: the scopes stored with it, under every name its repository has had.

The receiver marks the scopes stale under the repository's current name in the very
script that stores the event, then adds its former names (rare: renames and transfers).
The persistent layer's consumer group applies every stored event again as the durable
backstop (a serverless instance may die before the second step, and other producers only
append). Applying twice only bumps versions twice: entries revalidate once more, at no
rate-limit cost.
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

    async def apply_former_names(
        self, envelope: Envelope, scopes: Iterable[str], names: Iterable[str]
    ) -> list[str]:
        """Invalidate `scopes` under the repository's other names only (the current name's
        were bumped with the append)."""
        repository = envelope.repository
        current = list(scopes)
        if repository is None or not current:
            return []
        done = set(current)
        former = [s for s in renamed(current, repository.full_name, names) if s not in done]
        if former:
            await self.invalidator.invalidate(former)
        return former

    async def __call__(self, entry: StreamEntry) -> None:
        """The consumer group's handler."""
        await self.apply(entry.envelope, entry.scopes)
