"""Who is in each project, kept in Redis so every machine sees the same roster.

Each connection in a project has one entry in the project's hash and one expiry in a
fleet-wide sorted set. A machine renews the expiries of its own entries with its heartbeat
(one script call for all of them); when a machine dies, nobody renews them, and the
sweeper (one machine at a time, by a `SET NX` turn) removes them once they pass. A
machine killed with SIGKILL therefore leaves no ghost after `HUBBUB_PRESENCE_TTL_S` plus
one sweep interval.

Entries are keyed by a random connection id, never the Socket.IO sid: clients see each
other's entries, and a sid is not theirs to know.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.store import Store, load_script
from shared.store.keys import Keys

SET = load_script("presence_set")
REMOVE = load_script("presence_remove")
HEARTBEAT = load_script("presence_heartbeat")
SWEEP = load_script("presence_sweep")
_SWEEP_BATCH = 500


@dataclass(frozen=True)
class Departure:
    """An entry the sweeper removed: whose, where, and how many are left there."""

    repository_id: int
    entry: dict[str, Any]
    count: int


def _member(repository_id: int, connection_id: str) -> str:
    return f"{repository_id}|{connection_id}"


class Presence:
    def __init__(self, store: Store, keys: Keys, *, machine_id: str, ttl_s: int) -> None:
        self.store = store
        self.keys = keys
        self.machine_id = machine_id
        self.ttl_ms = ttl_s * 1000

    async def put(self, repository_id: int, entry: dict[str, Any]) -> int:
        """Add or replace a connection's entry; how many are in the project now."""
        return (await self.put_new(repository_id, entry))[0]

    async def put_new(self, repository_id: int, entry: dict[str, Any]) -> tuple[int, bool]:
        """`put`, and whether the entry is new (not replacing one already there)."""
        connection_id = entry["id"]
        count, added = await self.store.eval_script(
            SET,
            [self.keys.presence(repository_id), self.keys.presence_expiry()],
            [
                connection_id,
                json.dumps(entry, separators=(",", ":")),
                _member(repository_id, connection_id),
                _now_ms() + self.ttl_ms,
            ],
        )
        return int(count), bool(int(added))

    async def remove(self, repository_id: int, connection_id: str) -> tuple[bool, int]:
        """(whether it was there, how many remain)."""
        removed, count = await self.store.eval_script(
            REMOVE,
            [self.keys.presence(repository_id), self.keys.presence_expiry()],
            [connection_id, _member(repository_id, connection_id)],
        )
        return bool(int(removed)), int(count)

    async def roster(self, repository_id: int, cap: int) -> tuple[list[dict[str, Any]], int]:
        """At most `cap` entries (oldest first) and how many there are in all."""
        raw = await self.store.hgetall(self.keys.presence(repository_id))
        entries = []
        for text in raw.values():
            try:
                entry = json.loads(text)
            except ValueError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
        entries.sort(key=lambda entry: (entry.get("since", 0), entry.get("id", "")))
        return entries[:cap], len(raw)

    async def heartbeat(self, held: Iterable[tuple[int, dict[str, Any]]]) -> None:
        """This machine is alive, and so is every (project, entry) it holds."""
        triples: list[str | int] = []
        for repository_id, entry in held:
            triples += [repository_id, entry["id"], json.dumps(entry, separators=(",", ":"))]
        await self.store.eval_script(
            HEARTBEAT,
            [self.keys.machine(self.machine_id), self.keys.presence_expiry()],
            [self.ttl_ms, _now_ms() + self.ttl_ms, self.keys.presence(""), *triples],
        )

    async def sweep(self, interval_ms: int) -> list[Departure] | None:
        """Remove expired entries if it is this machine's turn (None when it is not), in
        batches until none is left: a dead machine may have held thousands."""
        if not await self.store.set(
            self.keys.presence_sweeper(), self.machine_id, px=interval_ms, nx=True
        ):
            return None
        departures: list[Departure] = []
        while True:
            flat = await self.store.eval_script(
                SWEEP,
                [self.keys.presence_expiry()],
                [_now_ms(), _SWEEP_BATCH, self.keys.presence("")],
            )
            for index in range(0, len(flat), 4):
                project, _, entry, count = flat[index : index + 4]
                try:
                    departures.append(Departure(int(project), json.loads(entry), int(count)))
                except ValueError:
                    continue
            if len(flat) < _SWEEP_BATCH * 4:
                return departures


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
