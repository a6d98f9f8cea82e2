"""What this machine knows about each of its sockets: who it is, where it is, its budgets.

A socket lives on one machine for its whole life, so this lives in process memory; what
other machines must see (presence) is in Redis.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

from realtime.buckets import TokenBucket
from shared.config import Settings
from shared.identity import Identity


@dataclass(slots=True)
class Project:
    id: int
    full_name: str


@dataclass(slots=True)
class Member:
    sid: str
    identity: Identity
    client_ip: str
    joins: TokenBucket
    presence_writes: TokenBucket
    ops: TokenBucket
    edits: TokenBucket
    # The last stream id the client saw, per project (lower-case name), from `auth.offsets`.
    offsets: dict[str, str] = field(default_factory=dict)
    projects: dict[int, Project] = field(default_factory=dict)
    issues: set[tuple[int, int]] = field(default_factory=set)
    # The presence entry this socket shows in each project, and updates not yet written.
    presence: dict[int, dict[str, Any]] = field(default_factory=dict)
    pending_presence: dict[int, dict[str, Any]] = field(default_factory=dict)
    presence_flush: asyncio.TimerHandle | None = None
    # Shown to other clients instead of the sid.
    connection_id: str = field(default_factory=lambda: secrets.token_urlsafe(9))
    warned_expiry: bool = False
    # Until when (time.monotonic()) write access to each project was last confirmed.
    writable: dict[int, float] = field(default_factory=dict)
    stalled_since: float | None = None  # time.monotonic() when its connection paused

    @property
    def user(self) -> str:
        """Whose op ids these are: the GitHub user id, else the credential's hash."""
        identity = self.identity
        return str(identity.user_id) if identity.user_id is not None else identity.token_hash

    @property
    def room_count(self) -> int:
        return len(self.projects) + len(self.issues)


def new_member(
    sid: str, identity: Identity, client_ip: str, offsets: dict[str, str], settings: Settings
) -> Member:
    return Member(
        sid=sid,
        identity=identity,
        client_ip=client_ip,
        offsets=offsets,
        joins=TokenBucket(
            settings.socket_joins_per_min / 60, max(1, settings.socket_joins_per_min // 3)
        ),
        presence_writes=TokenBucket(settings.socket_presence_per_s, settings.socket_presence_per_s),
        ops=TokenBucket(settings.socket_ops_per_s, settings.socket_ops_per_s * 2),
        edits=TokenBucket(settings.socket_edits_per_s, settings.socket_edits_per_s * 2),
    )
