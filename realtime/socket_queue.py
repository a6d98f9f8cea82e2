"""An unbounded FIFO for each socket's packets, a small fraction of an `asyncio.Queue`.

Every connected socket has two queues: engine.io's outgoing packets (its writer waits on
it) and uvicorn's incoming websocket messages (the app's `receive` waits on it). Both
are unbounded, and both are empty nearly all the time. An empty `asyncio.Queue` still
holds three deques (items, getters, putters) and an `Event` with a fourth: 64 slots
each, about 3 KB a queue with its dicts, 6 KB a socket, a fifth of what a connected
Hubbub socket costs. This is the same queue for the way these two use it, written here
because the standard one cannot be made smaller from outside:

- no `maxsize`: `put` never waits, so there are no putters;
- the item deque exists only while something is queued;
- getters and joiners are plain lists, empty for an idle socket.

Semantics follow `asyncio.Queue` (3.11): FIFO; a getter woken by `put_nowait` takes the
item on its next step, and a getter cancelled after it was woken passes the wake-up on;
`task_done`/`join` count unfinished items. `_getters` keeps the standard queue's name and
meaning (futures of consumers parked in `get`), which the direct write checks
(realtime/fanout.py).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


class SocketQueue:
    __slots__ = ("_getters", "_items", "_joiners", "_unfinished")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._getters: list[asyncio.Future[None]] = []
        self._joiners: list[asyncio.Future[None]] | None = None
        self._unfinished = 0

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return False

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        self._unfinished += 1
        self._wake_next()

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        items = self._items
        if not items:
            raise asyncio.QueueEmpty
        item = items.popleft()
        if not items:
            self._items = None
        return item

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                if getter in self._getters:
                    self._getters.remove(getter)
                if self._items and not getter.cancelled():
                    # Woken, then cancelled before it took the item: the next one may.
                    self._wake_next()
                raise
        return self.get_nowait()

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0 and self._joiners:
            joiners, self._joiners = self._joiners, None
            for joiner in joiners:
                if not joiner.done():
                    joiner.set_result(None)

    async def join(self) -> None:
        if self._unfinished > 0:
            joiner = asyncio.get_running_loop().create_future()
            if self._joiners is None:
                self._joiners = []
            self._joiners.append(joiner)
            await joiner

    def _wake_next(self) -> None:
        getters = self._getters
        while getters:
            getter = getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return
