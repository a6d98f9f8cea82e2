"""Draft editors for the tests: a Yjs client (a pycrdt document kept in step over a real
Socket.IO client, as a browser's `yjs` would be) and helpers for JSON clients."""

from __future__ import annotations

import asyncio
from typing import Any

from pycrdt import Doc, Map, Text

from realtime.drafts import protocol
from tests.realtime.conftest import TIMEOUT, Client

REPO = "octo/hello"


class YjsEditor:
    """A client's own copy of a draft: applies every `draft:sync` it hears and sends its
    own edits as y-sync updates."""

    def __init__(self, client: Client, number: int, repo: str = REPO) -> None:
        self.client = client
        self.repo = repo
        self.number = number
        self.doc = Doc()
        self.body = self.doc.get("body", type=Text)
        self.title = self.doc.get("title", type=Text)
        self.labels = self.doc.get("labels", type=Map)
        self._changes: list[bytes] = []
        self._heard = asyncio.Condition()
        self.doc.observe(self._note)
        client.sio.on("draft:sync", self._hear)
        self._applying = False
        self.deaf = False  # drops what it hears, as a client whose connection blipped
        self.asked = 0  # sync step 1s the server sent
        self.updates = 0  # updates heard

    def _note(self, event: Any) -> None:
        if not self._applying:
            self._changes.append(event.update)

    async def _hear(self, data: dict[str, Any]) -> None:
        if data.get("number") != self.number or self.deaf:
            return
        kind, payload = protocol.read_sync(data["message"])
        if kind == 0:  # the server asks for what we have that it lacks, as y-protocols answers
            self.asked += 1
            answer = await self.client.call(
                "draft:sync",
                {
                    "repo": self.repo,
                    "number": self.number,
                    "message": protocol.step2(self.doc.get_update(payload)),
                },
            )
            assert answer["ok"], answer
        else:
            self._apply(payload)
            self.updates += 1
        async with self._heard:
            self._heard.notify_all()

    def _apply(self, update: bytes) -> None:
        self._applying = True
        try:
            self.doc.apply_update(update)
        finally:
            self._applying = False

    async def open(self) -> dict[str, Any]:
        answer = await self.client.call(
            "open_issue", {"repo": self.repo, "number": self.number, "yjs": True}
        )
        assert answer["ok"], answer
        _, update = protocol.read_sync(answer["sync_step2"])
        self._apply(update)
        return answer

    async def insert(self, index: int, text: str) -> dict[str, Any]:
        """Type `text` at byte offset `index` of the body and send it."""
        self.body.insert(index, text)
        return await self.flush()

    async def flush(self) -> dict[str, Any]:
        changes, self._changes = self._changes, []
        answer: dict[str, Any] = {"ok": True}
        for change in changes:
            answer = await self.client.call(
                "draft:sync",
                {"repo": self.repo, "number": self.number, "message": protocol.update(change)},
            )
            assert answer["ok"], answer
        return answer

    async def resync(self) -> None:
        """Step 1 to the server, its step 2 applied: what a client does after a gap."""
        answer = await self.client.call(
            "draft:sync",
            {
                "repo": self.repo,
                "number": self.number,
                "message": protocol.step1(self.doc.get_state()),
            },
        )
        assert answer["ok"], answer
        _, update = protocol.read_sync(answer["message"])
        self._apply(update)

    async def wait_until(self, predicate: Any) -> None:
        async with asyncio.timeout(TIMEOUT), self._heard:
            await self._heard.wait_for(lambda: predicate(self))

    @property
    def text(self) -> str:
        return str(self.body)


async def op(client: Client, number: int, op: str, repo: str = REPO, **args: Any) -> Any:
    return await client.call("draft_op", {"repo": repo, "number": number, "op": op, **args})
