"""The durable plane: appending events to Redis Streams, and reading back what a client missed.

Every event goes to one global stream (which the persistent layer's consumers read) and,
under the same id, to its repository's stream (which clients replay from when they
reconnect), both trimmed approximately. Repositories are keyed by id, so a rename or a
transfer keeps one history; the bus remembers each name a repository has gone by.

Works over every Store, the REST one included: appending is one Lua script, one round trip.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from shared.events.envelope import Envelope, StreamEntry
from shared.store import Store, load_script
from shared.store.commands import entries_of
from shared.store.keys import Keys

APPEND = load_script("event_append")

# How long the name <-> id index outlives a repository's last event.
_INDEX_TTL_MS = 30 * 86_400_000
REPLAY_MAX = 500
_STREAM_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")


@dataclass(frozen=True)
class Bump:
    """Mark the event's scopes stale in the same script that stores it (the Invalidator's
    arguments: proxy/stages/invalidate.py)."""

    now_ms: int
    ttl_ms: int


@dataclass(frozen=True)
class Appended:
    id: str
    names: frozenset[str]  # every (lower-case) name the event's repository has gone by


@dataclass(frozen=True)
class Replay:
    entries: list[Envelope]
    # The client's last id is older than what the stream still holds: it must reload.
    resync_required: bool = False
    # More than the bound came after the client's id: ask again from the last one here.
    more: bool = False


def parse_stream_id(text: str) -> tuple[int, int]:
    """A stream id as a comparable pair; ValueError for anything else."""
    if not _STREAM_ID.match(text):
        raise ValueError(f"not a stream id: {text[:40]!r}")
    ms, _, seq = text.partition("-")
    pair = int(ms), int(seq or 0)
    if max(pair) >= 2**64:  # Redis refuses it: the client's mistake, not a store error
        raise ValueError(f"not a stream id: {text[:40]!r}")
    return pair


class EventBus:
    def __init__(
        self,
        store: Store,
        keys: Keys,
        *,
        stream_maxlen: int = 100_000,
        repository_maxlen: int = 1000,
    ) -> None:
        self.store = store
        self.keys = keys
        self.stream_maxlen = stream_maxlen
        self.repository_maxlen = repository_maxlen

    async def append(
        self,
        envelope: Envelope,
        *,
        scopes: Iterable[str] = (),
        dedupe_key: str | None = None,
        dedupe_ttl_ms: int = 0,
        bump: Bump | None = None,
    ) -> Appended | None:
        """Store the event; None when `dedupe_key` was already seen (nothing is stored).

        With `bump`, `scopes` are also marked stale (under the event's current repository
        name; the answer's `names` says whether it had others) and announced on the
        invalidation channel, atomically with the append.
        """
        repository = envelope.repository
        repository_id = repository.id if repository is not None else 0
        name = repository.full_name.lower() if repository is not None else ""
        scope_list = list(scopes)
        reply = await self.store.eval_script(
            APPEND,
            [
                dedupe_key or self.keys.webhook_delivery("-", "-"),
                self.keys.event_stream(),
                self.keys.repository_stream(repository_id),
                self.keys.repository_stream_first(repository_id),
                self.keys.repository_names(repository_id),
                self.keys.repository_id(name),
                *(self.keys.scope_version(scope) for scope in (scope_list if bump else ())),
            ],
            [
                dedupe_ttl_ms if dedupe_key else 0,
                self.stream_maxlen,
                self.repository_maxlen,
                envelope.to_json(),
                json.dumps(scope_list) if scope_list else "",
                name,
                repository_id,
                _INDEX_TTL_MS,
                bump.now_ms if bump else 0,
                bump.ttl_ms if bump else 0,
                self.keys.invalidation_channel(),
            ],
        )
        if reply[0] == "duplicate":
            return None
        return Appended(reply[0], frozenset(reply[1:]))

    async def repository_id(self, full_name: str) -> int | None:
        """The id of the repository last seen under `full_name`, if any event named it."""
        value = await self.store.get(self.keys.repository_id(full_name))
        return int(value) if value else None

    async def repository_names(self, repository_id: int) -> set[str]:
        return await self.store.smembers(self.keys.repository_names(repository_id))

    async def recent(self, repository_id: int, count: int) -> list[Envelope]:
        """The repository's last `count` events, oldest first."""
        entries = await self.store.xrevrange(
            self.keys.repository_stream(repository_id), count=count
        )
        return [StreamEntry.from_fields(i, f).envelope for i, f in reversed(entries)]

    async def replay(self, repository_id: int, after: str, *, limit: int = REPLAY_MAX) -> Replay:
        """What the repository's stream holds after `after`, oldest first, at most `limit`."""
        last_seen = parse_stream_id(after)
        after = "{}-{}".format(*last_seen)
        stream = self.keys.repository_stream(repository_id)
        first_ever, oldest, newer = await self.store.pipeline(
            [
                ("GET", self.keys.repository_stream_first(repository_id)),
                ("XRANGE", stream, "-", "+", "COUNT", 1),
                ("XRANGE", stream, f"({after}", "+", "COUNT", limit + 1),
            ]
        )
        oldest_entries = entries_of(oldest)
        if oldest_entries and first_ever is not None:
            oldest_id = parse_stream_id(oldest_entries[0][0])
            # Entries were trimmed (the first ever is gone), and the client had not seen
            # all of them: the gap cannot be replayed.
            if parse_stream_id(first_ever) < oldest_id and last_seen < oldest_id:
                return Replay([], resync_required=True)
        entries = entries_of(newer)
        return Replay(
            [StreamEntry.from_fields(i, f).envelope for i, f in entries[:limit]],
            more=len(entries) > limit,
        )
