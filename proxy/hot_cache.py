"""L1: fresh answers held in process memory, in front of the shared cache in Redis.

A dashboard polling the same resources lives on hits, and a hit that asks Redis even once
costs several bare requests' worth of CPU in Python. So each process keeps the entries
it served fresh, keyed exactly like the shared cache (caller partition, path, query,
Accept, API version), bounded by count and bytes (least recently used goes first).

An entry is dropped when any scope it is stamped with changes: the Invalidator tells this
process's cache at once and publishes every change (writes and webhooks alike) for the
others, which subscribe. Where nothing can subscribe (the REST store), or while the
subscription is down, an entry lives at most `HUBBUB_L1_TTL`. Each entry also keeps the
body as each public base rewrites it, so a hit re-shapes nothing.

`functools.lru_cache` and cachetools bound by count only and cannot drop by scope, so the
structure is written here, on an OrderedDict.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from proxy.cache_entry import CacheEntry

_ENTRY_OVERHEAD = 200  # bytes, roughly, beyond body and headers


@dataclass
class HotEntry:
    entry: CacheEntry
    scopes: tuple[str, ...]
    expires_ms: int
    size: int
    # public base -> (headers, body) as Shaping rewrote them for it.
    shaped: dict[str, tuple[list[tuple[str, str]], bytes]] = field(default_factory=dict)
    # public base -> those headers encoded for ASGI, as the hot path sends them.
    wire: dict[str, list[tuple[bytes, bytes]]] = field(default_factory=dict)
    # (public base, is a 304) -> the lines of those headers that every hit sends, joined
    # as uvicorn writes them (proxy/direct_answer.py); None: uvicorn's `send` writes them.
    lines: dict[tuple[str, bool], bytes | None] = field(default_factory=dict)


class HotCache:
    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        # Bumped by every invalidation: an answer read from Redis before one is not kept.
        self.generation = 0
        self._entries: OrderedDict[str, HotEntry] = OrderedDict()
        self._by_scope: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, now_ms: int) -> HotEntry | None:
        hot = self._entries.get(key)
        if hot is None:
            return None
        if now_ms >= hot.expires_ms:
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return hot

    def put(
        self, key: str, entry: CacheEntry, scopes: Iterable[str], expires_ms: int, generation: int
    ) -> None:
        """Keep `entry` unless an invalidation came since `generation` was read."""
        if generation != self.generation or self.max_entries == 0:
            return
        size = len(entry.body) + sum(len(k) + len(v) for k, v in entry.headers) + _ENTRY_OVERHEAD
        if size > self.max_bytes:
            return
        self._remove(key)
        hot = HotEntry(entry, tuple(scopes), expires_ms, size)
        self._entries[key] = hot
        self.bytes += size
        for scope in hot.scopes:
            self._by_scope.setdefault(scope, set()).add(key)
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._remove(next(iter(self._entries)))

    def drop_scopes(self, scopes: Iterable[str]) -> int:
        """Forget every entry stamped with any of `scopes`; answers how many went."""
        self.generation += 1
        dropped = 0
        for scope in scopes:
            for key in list(self._by_scope.get(scope, ())):
                self._remove(key)
                dropped += 1
        return dropped

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._by_scope.clear()
        self.bytes = 0

    def _remove(self, key: str) -> None:
        hot = self._entries.pop(key, None)
        if hot is None:
            return
        self.bytes -= hot.size
        for scope in hot.scopes:
            keys = self._by_scope.get(scope)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_scope[scope]
