"""Drafts are binary-compatible with the browser's `yjs` (tests/js, run with node).

The golden test makes the same concurrent edits (same client ids, same order, emoji and
accents included) with `yjs` and with pycrdt, and compares the documents, then has each
side read the other's encoding. The client test is a Node Yjs editor speaking y-protocols
over socket.io-client to the real server, typing while a Python client types.
Without node the tests skip; under CI they fail (see test_js_client.node_binary).
"""

from __future__ import annotations

import base64
import random
from typing import Any

import pytest
from pycrdt import Doc, Map, Text

from realtime.drafts.document import Draft
from tests.proxy.conftest import TOKEN_B
from tests.realtime.conftest import Client, JsClient, Live, RunJs
from tests.realtime.editors import REPO, op

PEERS = [101, 202, 303]
ALPHABET = "abc xyz é😀\n"


def script(seed: int, steps: int = 60) -> list[dict[str, Any]]:
    """Random edits by three peers, with a sync now and then (and always at the end)."""
    rng = random.Random(seed)
    docs = [_Peer(i) for i in range(3)]  # what each peer sees, to pick valid positions
    out: list[dict[str, Any]] = []
    for _ in range(steps):
        if rng.random() < 0.15:
            out.append({"sync": True})
            _sync(docs)
            continue
        peer = rng.randrange(3)
        if rng.random() < 0.2:
            name = rng.choice(["bug", "ui", "p1"])
            step = {"peer": peer, "map": "labels"}
            step["set" if rng.random() < 0.6 else "remove"] = name
        else:
            field = rng.choice(["title", "body", "body"])
            length = len(str(docs[peer].text(field)))
            at = rng.randint(0, length)
            if length > at and rng.random() < 0.3:
                cut = rng.randint(1, length - at)
                step = {"peer": peer, "text": field, "at": at, "delete": cut}
            else:
                word = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 4)))
                step = {"peer": peer, "text": field, "at": at, "insert": word}
        _apply(docs, step)
        out.append(step)
    out.append({"sync": True})
    return out


class _Peer:
    def __init__(self, index: int) -> None:
        self.doc: Doc = Doc(client_id=PEERS[index])

    def text(self, name: str) -> Text:
        return self.doc.get(name, type=Text)


def _apply(peers: list[_Peer], step: dict[str, Any]) -> None:
    if step.get("sync"):
        _sync(peers)
        return
    doc = peers[step["peer"]].doc
    if "text" in step:
        text = doc.get(step["text"], type=Text)
        current = str(text)
        start = len(current[: step["at"]].encode())
        if "insert" in step:
            text.insert(start, step["insert"])
        else:
            end = start + len(current[step["at"] : step["at"] + step["delete"]].encode())
            del text[start:end]
    else:
        labels = doc.get(step["map"], type=Map)
        if "set" in step:
            labels[step["set"]] = True
        elif step["remove"] in labels:
            del labels[step["remove"]]


def _sync(peers: list[_Peer]) -> None:
    states = [p.doc.get_update() for p in peers]
    for i, peer in enumerate(peers):
        for j, state in enumerate(states):
            if i != j:
                peer.doc.apply_update(state)


def _view(doc: Doc) -> dict[str, Any]:
    return {
        "title": str(doc.get("title", type=Text)),
        "body": str(doc.get("body", type=Text)),
        "labels": sorted(doc.get("labels", type=Map).keys()),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_yjs_and_pycrdt_make_the_same_document_from_the_same_edits(
    run_js: RunJs, seed: int
) -> None:
    steps = script(seed)
    peers = [_Peer(i) for i in range(3)]
    for step in steps:
        _apply(peers, step)
    ours = _view(peers[0].doc)

    js = await run_js({"peers": PEERS, "steps": steps}, "yjs_golden.mjs")
    theirs = await js.expect("json")
    assert theirs == ours

    # Each reads the other's encoding of the whole document.
    js_state = base64.b64decode(js.last["state"])
    assert _view(Draft.from_updates(js_state).doc) == ours
    back = await run_js(
        {"apply": base64.b64encode(peers[0].doc.get_update()).decode()}, "yjs_golden.mjs"
    )
    assert await back.expect("json") == ours


async def python_and_node_editors(
    run_js: RunJs, live: Live, **config: str
) -> tuple[Client, JsClient]:
    """Bob with #1 open as a JSON client, and tests/js/draft_client.mjs (as Bob too) as a
    Yjs editor of it with `config`, running until the body holds "from python"."""
    bob = await live.connect(TOKEN_B)
    await bob.call("join_project", {"repo": REPO})
    await bob.call("open_issue", {"repo": REPO, "number": 1})
    settings = {"url": live.url, "token": TOKEN_B, "repo": REPO, "number": 1}
    js = await run_js({**settings, **config, "until": "from python"}, "draft_client.mjs")
    return bob, js


async def test_a_node_yjs_editor_and_a_python_client_edit_one_draft(
    run_js: RunJs, live: Live
) -> None:
    bob, js = await python_and_node_editors(run_js, live, insert="from node; ")
    opened = await js.expect("opened")
    assert opened["title"] == "First"
    seen = await bob.wait_for("draft_changed", lambda d: "from node; " in d["body"])
    assert seen[0]["body"] == "from node; "
    assert (await op(bob, 1, "splice_body", index=len("from node; "), insert="from python"))["ok"]
    done = await js.until("done")
    assert done == "from node; from python"
    assert await js.exit_code() == 0


async def test_what_a_yjs_editor_wrote_offline_reaches_the_draft_through_its_step_2(
    run_js: RunJs, live: Live
) -> None:
    """A browser that kept typing while disconnected sends it in its answer to the
    server's step 1 (the open's `sync_step1`): that answer must be a y-sync message the
    server takes, or the offline text never leaves the browser."""
    bob, js = await python_and_node_editors(run_js, live, offline="written offline; ")
    await js.expect("opened")
    await bob.wait_for("draft_changed", lambda d: d["body"] == "written offline; ")
    end = len("written offline; ")
    assert (await op(bob, 1, "splice_body", index=end, insert="from python"))["ok"]
    assert await js.until("done") == "written offline; from python"
    assert await js.exit_code() == 0
