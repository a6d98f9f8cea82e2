"""Mutations carry an op id, and a retried op is applied once, across the fleet.

The first attempt claims the id with one script (`SET NX`, for a short while); a retry
that arrives after it finished gets the stored answer (kept ten minutes), and one that
arrives while it runs is told so. A failed attempt releases the id, so the client's retry
runs again; a claim whose process died lapses by itself. Ids are per user: two users
cannot collide, or read each other's answers.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from realtime.replies import Ack, refused
from shared.errors import InvalidRequest, StoreError
from shared.store import Store, load_script
from shared.store.keys import Keys

ONCE = load_script("op_once")
OP_TTL_MS = 600_000  # how long an answer is kept for retries
# How long a claim holds while its op runs: a process that dies mid-op frees it soon.
CLAIM_TTL_MS = 30_000
_OP_ID = re.compile(r"[A-Za-z0-9_.:-]{8,64}")


class OpLog:
    def __init__(self, store: Store, keys: Keys) -> None:
        self.store = store
        self.keys = keys

    async def once(
        self, user: str, data: dict[str, Any], apply: Callable[[], Awaitable[Ack]]
    ) -> Ack:
        op_id = data.get("op_id")
        if not isinstance(op_id, str) or not _OP_ID.fullmatch(op_id):
            raise InvalidRequest(
                "a mutation needs an 'op_id' of 8-64 letters, digits or _.:-", code="invalid_op_id"
            )
        key = self.keys.socket_op(user, op_id)
        stored = await self.store.eval_script(ONCE, [key], [CLAIM_TTL_MS])
        if stored is not None:
            if stored == "":
                return refused("op_in_progress", "this op id is being applied; retry shortly")
            return {**json.loads(stored), "duplicate": True}
        try:
            answer = await apply()
        except BaseException:
            await self._release(key)
            raise
        if answer.get("ok"):
            await self.store.set(key, json.dumps(answer, separators=(",", ":")), px=OP_TTL_MS)
        else:
            await self._release(key)
        return answer

    async def _release(self, key: str) -> None:
        with contextlib.suppress(StoreError):  # else it expires on its own
            await self.store.delete(key)
