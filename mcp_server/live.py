"""What the `live` toolset needs from the persistent server's rooms.

The rooms, presence and drafts live in `realtime/`, a layer above this one; the persistent
server hands its implementation in (realtime/agents.py). Handles an agent receives are
random ids stored with the user they belong to: another user's call with the same handle
finds nothing.
"""

from __future__ import annotations

from typing import Any, Protocol

from shared.identity import Identity


class LiveRooms(Protocol):
    async def who_is_here(
        self, identity: Identity, repo: str, number: int | None
    ) -> dict[str, Any]:
        """The people (and agents) in a project, or in one issue of it."""
        ...

    async def join(self, identity: Identity, repo: str, number: int, name: str) -> dict[str, Any]:
        """Enter an issue's live editing as a participant called `name`; returns a handle
        and the draft as it stands."""
        ...

    async def draft(self, identity: Identity, handle: str) -> dict[str, Any]: ...

    async def propose(
        self, identity: Identity, handle: str, ops: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Apply draft operations (set_title, splice_body, add_label, ...) as the agent."""
        ...

    async def save(self, identity: Identity, handle: str) -> dict[str, Any]: ...

    async def leave(self, identity: Identity, handle: str) -> dict[str, Any]: ...
