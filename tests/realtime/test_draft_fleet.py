"""Drafts across machines: `hubbub serve` processes on one real Redis, Yjs clients on each.

Three people on two machines type into one body at once and every replica, every client
and the stored draft end the same, with every typed character; a machine killed while
its only editor types loses no acknowledged edit.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from realtime.drafts.document import Draft
from realtime.drafts.storage import DraftStorage
from shared.store.keys import Keys
from shared.store.native import NativeStore
from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import TIMEOUT, TOKEN_C, Fleet, join
from tests.realtime.editors import YjsEditor

WORDS = 12


def with_issue(fleet: Fleet) -> None:
    fleet.github.add_issue("octo", "hello", title="Shared", number=1)


async def editor_on(fleet: Fleet, machine: object, token: str) -> YjsEditor:
    client = await fleet.client(machine, token)  # type: ignore[arg-type]
    await join(client)
    editor = YjsEditor(client, 1)
    await editor.open()
    return editor


async def stored_body(redis_url: str, repository_id: int) -> str:
    store = NativeStore.from_url(redis_url, timeout_ms=2000)
    try:
        stored = await DraftStorage(store, Keys(), "test").load(repository_id, 1)
        assert stored is not None
        return Draft.from_updates(stored.snapshot, *(u for _, u in stored.log)).values().body
    finally:
        await store.aclose()


@pytest.mark.parametrize("seed", [7, 8])
async def test_three_editors_on_two_machines_converge_with_every_character(
    fleet: Fleet, fresh_redis_url: str, seed: int
) -> None:
    fleet.repo.writers |= {"alice", "bob", "carol"}
    with_issue(fleet)
    a = await fleet.machine("a", fresh_redis_url)
    b = await fleet.machine("b", fresh_redis_url)
    editors = [
        await editor_on(fleet, a, TOKEN_A),
        await editor_on(fleet, a, TOKEN_B),
        await editor_on(fleet, b, TOKEN_C),
    ]
    rng = random.Random(seed)
    typed: list[str] = []

    async def type_words(editor: YjsEditor, name: str) -> None:
        for i in range(WORDS):
            word = f"{name}{i};"
            typed.append(word)
            editor.body.insert(rng.randint(0, len(editor.text)), word)  # ASCII: bytes = chars
            if rng.random() < 0.6:  # sometimes two edits go out as one burst
                await editor.flush()
            for _ in range(rng.randint(0, 3)):
                await asyncio.sleep(0)  # let the others' sends interleave
        await editor.flush()

    await asyncio.gather(*(type_words(e, n) for e, n in zip(editors, "abc", strict=True)))
    total = sum(len(word) for word in typed)
    for editor in editors:
        await editor.wait_until(lambda e: len(e.text) == total)
    texts = {editor.text for editor in editors}
    assert len(texts) == 1
    text = texts.pop()
    assert sorted(text) == sorted("".join(typed))
    assert await stored_body(fresh_redis_url, fleet.repo.id) == text


async def test_a_machine_killed_mid_typing_loses_no_acknowledged_edit(
    fleet: Fleet, fresh_redis_url: str
) -> None:
    fleet.repo.writers |= {"bob"}
    with_issue(fleet)
    a = await fleet.machine("a", fresh_redis_url)
    b = await fleet.machine("b", fresh_redis_url)
    bob = await editor_on(fleet, a, TOKEN_B)
    acknowledged: list[str] = []
    enough = asyncio.Event()

    async def keep_typing() -> None:
        for i in range(1000):
            word = f"w{i};"
            bob.body.insert(len(bob.text), word)
            try:
                answer = await bob.flush()
            except Exception:  # the machine died under this send
                return
            if answer.get("ok"):
                acknowledged.append(word)
            if len(acknowledged) == 20:
                enough.set()

    typing = asyncio.create_task(keep_typing())
    async with asyncio.timeout(TIMEOUT):
        await enough.wait()
    a.kill()  # the only replica, mid-typing
    async with asyncio.timeout(TIMEOUT):
        await typing

    again = await editor_on(fleet, b, TOKEN_B)
    for word in acknowledged:
        assert word in again.text
    # And editing goes on from there.
    await again.insert(0, "after the crash;")
    assert (await again.client.call("save_issue", {"repo": "octo/hello", "number": 1}))["saved"]
    body = fleet.github.issue("octo", "hello", 1)["body"]
    assert body.startswith("after the crash;") and all(word in body for word in acknowledged)
