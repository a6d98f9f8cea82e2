"""Leases on draft keys: who writes an issue back to GitHub, and who is editing which
field. Each is one `SET NX PX` to take, and a compare-and-act script to renew or release,
so a holder that stalled past its lease never releases someone else's.

The writer lease is exclusive: one save or merge per issue across the fleet. Field
leases are advisory ("Ana is editing the body"): shown to people, never checked on an
edit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from typing import Any

from realtime.drafts.storage import RELEASE, RENEW
from shared.errors import StoreError
from shared.store import Store
from shared.store.keys import Keys

WRITER_LEASE_MS = 30_000
FIELD_LEASE_MS = 30_000
# Fields people can focus; the client names them.
FIELDS = frozenset({"title", "body", "labels", "assignees", "state", "milestone"})


class WriterLease:
    """`async with WriterLease(...)`: entered once this caller is the issue's only
    writer, or raises TimeoutError after `wait_s`."""

    def __init__(
        self, store: Store, keys: Keys, repository_id: int, number: int, *, wait_s: float = 0
    ) -> None:
        self.store = store
        self.key = keys.draft_writer(repository_id, number)
        self.owner = secrets.token_hex(8)
        self.wait_s = wait_s
        self.lost = False

    async def __aenter__(self) -> WriterLease:
        delay = 0.02
        deadline = asyncio.get_running_loop().time() + self.wait_s
        while not await self.store.set(self.key, self.owner, px=WRITER_LEASE_MS, nx=True):
            if asyncio.get_running_loop().time() + delay > deadline:
                raise TimeoutError("another machine is writing this issue")
            # Polled: a lease freed by expiry announces nothing to wait on.
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)
        # Held as long as the work takes: a save retried against a slow GitHub can outlast
        # one lease, and a second writer must never start meanwhile.
        self._renewal = asyncio.create_task(self._renew())
        return self

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(WRITER_LEASE_MS / 3000)
            with contextlib.suppress(StoreError):
                if not await self.store.eval_script(
                    RENEW, [self.key], [self.owner, WRITER_LEASE_MS]
                ):
                    self.lost = True  # it expired: another writer may be at work
                    return

    async def __aexit__(self, *exc: object) -> None:
        self._renewal.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._renewal
        with contextlib.suppress(StoreError):  # else it expires by itself
            await self.store.eval_script(RELEASE, [self.key], [self.owner, 0])


class FieldLeases:
    def __init__(self, store: Store, keys: Keys) -> None:
        self.store = store
        self.keys = keys

    async def take(
        self, repository_id: int, number: int, field: str, holder: dict[str, Any]
    ) -> dict[str, Any]:
        """Take the field for `holder`, or keep it if it is theirs; either way the answer
        is who holds it now."""
        key = self.keys.draft_field(repository_id, number, field)
        value = json.dumps(holder, separators=(",", ":"), sort_keys=True)
        if await self.store.set(key, value, px=FIELD_LEASE_MS, nx=True):
            return holder
        current = await self.store.get(key)
        if current == value:
            await self.renew(repository_id, number, field, holder)
            return holder
        try:
            return json.loads(current) if current else holder
        except ValueError:
            return holder

    async def renew(
        self, repository_id: int, number: int, field: str, holder: dict[str, Any]
    ) -> bool:
        key = self.keys.draft_field(repository_id, number, field)
        value = json.dumps(holder, separators=(",", ":"), sort_keys=True)
        return bool(await self.store.eval_script(RENEW, [key], [value, FIELD_LEASE_MS]))

    async def release(
        self, repository_id: int, number: int, field: str, holder: dict[str, Any]
    ) -> bool:
        key = self.keys.draft_field(repository_id, number, field)
        value = json.dumps(holder, separators=(",", ":"), sort_keys=True)
        return bool(await self.store.eval_script(RELEASE, [key], [value, 0]))

    async def holders(self, repository_id: int, number: int) -> dict[str, dict[str, Any]]:
        fields = sorted(FIELDS)
        values = await self.store.mget(
            [self.keys.draft_field(repository_id, number, field) for field in fields]
        )
        held: dict[str, dict[str, Any]] = {}
        for field, value in zip(fields, values, strict=True):
            if value:
                try:
                    held[field] = json.loads(value)
                except ValueError:
                    continue
        return held
