"""Editing an issue's draft together on one server: JSON operations, Yjs sync, who is
editing what, and every refusal. Real server, real Socket.IO clients, fake GitHub."""

from __future__ import annotations

from typing import Any

from realtime.drafts import protocol
from realtime.drafts.document import BODY_MAX, Draft
from realtime.drafts.storage import DraftStorage
from shared.store.keys import Keys
from shared.store.native import NativeStore
from tests.fakes.redis_server import RedisServer
from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import TOKEN_C, Client, Live
from tests.realtime.editors import REPO, YjsEditor, op


async def opened(live: Live, token: str, number: int = 1, **options: Any) -> tuple[Client, Any]:
    client = await live.connect(token)
    joined = await client.call("join_project", {"repo": REPO})
    assert joined["ok"], joined
    answer = await client.call("open_issue", {"repo": REPO, "number": number, **options})
    assert answer["ok"], answer
    return client, answer


async def yjs_editor(live: Live, token: str, number: int = 1) -> YjsEditor:
    editor = YjsEditor(await live.connect(token), number)
    assert (await editor.client.call("join_project", {"repo": REPO}))["ok"]
    await editor.open()
    return editor


async def test_open_answers_the_draft_as_github_has_it(live: Live) -> None:
    live.github.edit_issue("octo", "hello", 1, body="Steps to reproduce", labels=["bug"])
    _, answer = await opened(live, TOKEN_C)
    draft = answer["draft"]
    assert draft["title"] == "First"
    assert draft["body"] == "Steps to reproduce"
    assert draft["labels"] == ["bug"]
    assert draft["state"] == "open"
    assert draft["base_updated_at"] == answer["issue"]["updated_at"]


async def test_json_operations_apply_and_reach_every_json_editor(live: Live) -> None:
    live.github.add_milestone("octo", "hello", 3, "v1.0")
    bob, _ = await opened(live, TOKEN_B)
    carol, _ = await opened(live, TOKEN_C)

    assert (await op(bob, 1, "set_title", title="First, renamed"))["ok"]
    assert (await op(bob, 1, "splice_body", index=0, delete=0, insert="Hello wörld"))["ok"]
    assert (await op(bob, 1, "splice_body", index=6, delete=5, insert="there"))["ok"]
    assert (await op(bob, 1, "add_label", label="bug"))["ok"]
    assert (await op(bob, 1, "add_label", label="ui"))["ok"]
    assert (await op(bob, 1, "remove_label", label="bug"))["ok"]
    assert (await op(bob, 1, "add_assignee", login="bob"))["ok"]
    assert (await op(bob, 1, "set_milestone", milestone=3))["ok"]
    last = await op(bob, 1, "set_state", state="closed", state_reason="not_planned")
    assert last["ok"], last
    expected = {
        "title": "First, renamed",
        "body": "Hello there",
        "labels": ["ui"],
        "assignees": ["bob"],
        "state": "closed",
        "state_reason": "not_planned",
        "milestone": 3,
    }
    assert {k: last["draft"][k] for k in expected} == expected

    seen = await carol.wait_for(
        "draft_changed", lambda d: d["version"] == last["version"] and d["state"] == "closed"
    )
    assert {k: seen[0][k] for k in expected} == expected


async def test_an_op_id_applies_once(live: Live) -> None:
    bob, _ = await opened(live, TOKEN_B)
    first = await op(bob, 1, "splice_body", index=0, insert="once ", op_id="splice-0001")
    again = await op(bob, 1, "splice_body", index=0, insert="once ", op_id="splice-0001")
    assert first["ok"] and again["ok"] and again["duplicate"] is True
    assert again["draft"]["body"] == "once "
    later = await op(bob, 1, "splice_body", index=0, insert="")
    assert later["draft"]["body"] == "once "


async def test_readers_may_open_but_not_edit_or_focus_a_field_into_the_text(live: Live) -> None:
    carol, _ = await opened(live, TOKEN_C)
    refused = await op(carol, 1, "set_title", title="Mine now")
    assert refused == {
        "ok": False,
        "error": {"code": "forbidden", "message": "no write access to octo/hello"},
    }
    editor = YjsEditor(carol, 1)
    await editor.open()
    editor.body.insert(0, "sneaky")
    change = editor._changes.pop()
    answer = await carol.call(
        "draft:sync", {"repo": REPO, "number": 1, "message": protocol.update(change)}
    )
    assert answer["error"]["code"] == "forbidden"
    _bob, opened_again = await opened(live, TOKEN_B)
    assert opened_again["draft"]["title"] == "First"
    assert opened_again["draft"]["body"] == ""


async def test_bad_operations_are_refused_and_change_nothing(live: Live) -> None:
    bob, _ = await opened(live, TOKEN_B)
    await op(bob, 1, "splice_body", index=0, insert="abc")
    cases = [
        ({"op": "drop_table"}, "invalid_operation"),
        ({"op": "splice_body", "index": 4, "insert": "x"}, "invalid_payload"),
        ({"op": "splice_body", "index": 1, "delete": 5}, "invalid_payload"),
        ({"op": "splice_body", "index": -1}, "invalid_payload"),
        ({"op": "set_title", "title": "   "}, "invalid_payload"),
        ({"op": "set_title", "title": "x" * 257}, "invalid_payload"),
        ({"op": "add_label", "label": ""}, "invalid_payload"),
        ({"op": "set_state", "state": "merged"}, "invalid_payload"),
        ({"op": "set_milestone", "milestone": "v1"}, "invalid_payload"),
        ({"op": "splice_body", "index": 0, "insert": "x" * BODY_MAX}, "draft_too_large"),
    ]
    for args, code in cases:
        answer = await bob.call("draft_op", {"repo": REPO, "number": 1, **args})
        assert answer["ok"] is False and answer["error"]["code"] == code, (args, answer)
    check = await op(bob, 1, "splice_body", index=0, insert="")
    assert check["draft"]["body"] == "abc"
    assert check["draft"]["title"] == "First"

    not_open = await bob.call("draft_op", {"repo": REPO, "number": 2, "op": "set_title"})
    assert not_open["error"]["code"] == "not_open"
    garbage = await bob.call("draft:sync", {"repo": REPO, "number": 1, "message": b"\x00\x02"})
    assert garbage["error"]["code"] == "invalid_message"
    not_binary = await bob.call("draft:sync", {"repo": REPO, "number": 1, "message": "AAE="})
    assert not_binary["error"]["code"] == "invalid_payload"
    bad_update = await bob.call(
        "draft:sync", {"repo": REPO, "number": 1, "message": protocol.update(b"\xff\xff\xff")}
    )
    assert bad_update["error"]["code"] == "invalid_message"


async def test_yjs_and_json_editors_see_each_others_edits(live: Live) -> None:
    live.repo.writers.add("alice")
    alice, _ = await opened(live, TOKEN_A)  # JSON
    bob = await yjs_editor(live, TOKEN_B)

    typed = await bob.insert(0, "typed in yjs")
    seen = await alice.wait_for("draft_changed", lambda d: d["version"] == typed["version"])
    assert seen[0]["body"] == "typed in yjs"

    await op(alice, 1, "splice_body", index=0, insert="json: ")
    await bob.wait_until(lambda e: e.text == "json: typed in yjs")


async def test_a_yjs_client_that_missed_updates_heals_on_sync(live: Live) -> None:
    bob = await yjs_editor(live, TOKEN_B)
    live.repo.writers.add("alice")
    alice, _ = await opened(live, TOKEN_A)
    bob.deaf = True
    for word in ("one ", "two ", "three "):
        await op(alice, 1, "splice_body", index=0, insert=word)
    assert bob.text == ""
    bob.deaf = False
    await bob.resync()
    assert bob.text == "three two one "


async def test_concurrent_typing_merges_without_losing_a_character(live: Live) -> None:
    live.repo.writers.add("alice")
    ana, bob = [await yjs_editor(live, token) for token in (TOKEN_A, TOKEN_B)]
    # Both type at position 0 of the same empty body before hearing each other.
    ana.body.insert(0, "ana ")
    bob.body.insert(0, "bob ")
    await ana.flush()
    await bob.flush()
    await ana.wait_until(lambda e: len(e.text) == 8)
    await bob.wait_until(lambda e: len(e.text) == 8)
    assert ana.text == bob.text
    assert sorted(ana.text.split()) == ["ana", "bob"]


async def test_a_yjs_update_past_githubs_limit_is_refused(live: Live) -> None:
    bob = await yjs_editor(live, TOKEN_B)
    bob.body.insert(0, "x" * (BODY_MAX + 1))
    change = bob._changes.pop()
    answer = await bob.client.call(
        "draft:sync", {"repo": REPO, "number": 1, "message": protocol.update(change)}
    )
    assert answer["error"]["code"] == "draft_too_large"
    _carol, opened_after = await opened(live, TOKEN_C)
    assert opened_after["draft"]["body"] == ""


async def test_field_leases_show_who_is_editing_and_never_block(live: Live) -> None:
    live.repo.writers.add("alice")
    alice, _ = await opened(live, TOKEN_A)
    bob, _ = await opened(live, TOKEN_B)

    focus = await alice.call("draft_focus", {"repo": REPO, "number": 1, "field": "body"})
    assert focus["ok"] and focus["fields"]["body"]["login"] == "alice"
    await bob.wait_for(
        "draft_field",
        lambda d: d["field"] == "body" and (d["holder"] or {}).get("login") == "alice",
    )
    await bob.wait_for(
        "presence",
        lambda d: (
            (d.get("member") or {}).get("login") == "alice" and d["member"]["field"] == "body"
        ),
    )
    # Bob focuses the same field: Alice still holds it, and Bob's edit goes through.
    second = await bob.call("draft_focus", {"repo": REPO, "number": 1, "field": "body"})
    assert second["fields"]["body"]["login"] == "alice"
    assert (await op(bob, 1, "splice_body", index=0, insert="bob was here"))["ok"]

    # Blur releases it, to Bob, who is still focused on it; leaving releases too.
    await alice.call("draft_focus", {"repo": REPO, "number": 1, "field": None})
    await bob.wait_for(
        "draft_field",
        lambda d: d["field"] == "body" and (d["holder"] or {}).get("login") == "bob",
    )
    await alice.call("draft_focus", {"repo": REPO, "number": 1, "field": "title"})
    await alice.close()
    await bob.wait_for("draft_field", lambda d: d["field"] == "title" and d["holder"] is None)

    bad = await bob.call("draft_focus", {"repo": REPO, "number": 1, "field": "password"})
    assert bad["error"]["code"] == "invalid_payload"


async def test_awareness_is_relayed_and_retired_when_a_socket_drops(live: Live) -> None:
    live.repo.writers.add("alice")
    ana, bob = [await yjs_editor(live, token) for token in (TOKEN_A, TOKEN_B)]
    state = b'{"user":{"name":"Ana"},"cursor":{"field":"body","index":3}}'
    update = b"\x01" + _varuint(4242) + _varuint(7) + _varuint(len(state)) + state
    answer = await ana.client.call(
        "draft:awareness", {"repo": REPO, "number": 1, "message": update}
    )
    assert answer["ok"], answer
    heard = await bob.client.wait_for("draft:awareness")
    assert heard[0]["message"] == update
    assert not ana.client.received("draft:awareness")  # not echoed to its sender

    await ana.client.close()
    retired = await bob.client.wait_for(
        "draft:awareness", lambda d: protocol.awareness_entries(d["message"])[0][2] is False
    )
    assert protocol.awareness_entries(retired[0]["message"]) == [(4242, 8, False)]

    bad = await bob.client.call("draft:awareness", {"repo": REPO, "number": 1, "message": b"\x05"})
    assert bad["error"]["code"] == "invalid_message"


def _varuint(number: int) -> bytes:
    out = bytearray()
    while number > 127:
        out.append(128 | (number & 127))
        number >>= 7
    out.append(number)
    return bytes(out)


async def test_an_edit_made_while_redis_is_down_is_kept_and_logged_when_it_is_back(
    make_live: Any,
) -> None:
    redis = RedisServer(durable=True)
    try:
        store = NativeStore.from_url(redis.url, timeout_ms=1000)
        live = await make_live(store)
        bob, _ = await opened(live, TOKEN_B)
        before = await op(bob, 1, "splice_body", index=0, insert="before;")
        assert before["ok"] and before["durable"] is True
        redis.pause()
        during = await op(bob, 1, "splice_body", index=0, insert="during;")
        # Applied (the others have it) but not yet in Redis: not to be sent again.
        assert during["ok"] and during["durable"] is False
        assert during["draft"]["body"] == "during;before;"
        redis.resume()
        after = await op(bob, 1, "splice_body", index=0, insert="after;")
        assert after["ok"] and after["durable"] is True

        stored = await DraftStorage(store, Keys(), "test").load(live.repo.id, 1)
        assert stored is not None
        body = Draft.from_updates(stored.snapshot, *(u for _, u in stored.log)).values().body
        assert body == "after;during;before;"
    finally:
        redis.stop()


async def test_an_update_ahead_of_its_dependency_waits_and_its_sender_is_asked_to_sync(
    live: Live,
) -> None:
    live.repo.writers.add("alice")
    ana, bob = [await yjs_editor(live, token) for token in (TOKEN_A, TOKEN_B)]
    ana.body.insert(0, "first ")
    lost = ana._changes.pop()  # never reaches the server, as if refused
    ana.body.insert(6, "second")
    held = await ana.flush()
    assert held["ok"] and held["held"] is True and held["durable"] is False
    assert bob.text == ""
    # Within a second the server asks Ana for what it lacks, and she answers.
    await bob.wait_until(lambda e: e.text == "first second")
    assert ana.asked == 1
    assert lost  # sent only by the sync
    _carol, opened_after = await opened(live, TOKEN_C)
    assert opened_after["draft"]["body"] == "first second"


async def test_a_yjs_editor_over_its_budget_is_asked_to_sync_and_loses_nothing(
    make_live: Any,
) -> None:
    live = await make_live(socket_edits_per_s=1)  # a burst of 2
    live.repo.writers.add("alice")
    ana, bob = [await yjs_editor(live, token) for token in (TOKEN_A, TOKEN_B)]
    refused = None
    for letter in "abcd":
        ana.body.insert(len(ana.text), letter)
        changes, ana._changes = ana._changes, []
        answer = await ana.client.call(
            "draft:sync", {"repo": REPO, "number": 1, "message": protocol.update(changes[0])}
        )
        refused = refused or (None if answer["ok"] else answer)
    assert refused is not None and refused["error"]["code"] == "rate_limited"
    await bob.wait_until(lambda e: e.text == "abcd")


async def test_text_that_is_not_unicode_is_refused_and_changes_nothing(live: Live) -> None:
    bob, _ = await opened(live, TOKEN_B)
    bad = await op(bob, 1, "set_title", title="Hx\udc00")
    assert bad["error"]["code"] == "invalid_payload"
    check = await op(bob, 1, "splice_body", index=0, insert="ok")
    assert check["draft"]["title"] == "First" and check["draft"]["body"] == "ok"


async def test_a_yjs_title_past_githubs_limit_is_refused(live: Live) -> None:
    bob = await yjs_editor(live, TOKEN_B)
    bob.title.insert(0, "x" * 300)
    change = bob._changes.pop()
    answer = await bob.client.call(
        "draft:sync", {"repo": REPO, "number": 1, "message": protocol.update(change)}
    )
    assert answer["error"]["code"] == "draft_too_large"


async def test_a_reader_cannot_take_a_field(live: Live) -> None:
    carol, _ = await opened(live, TOKEN_C)
    answer = await carol.call("draft_focus", {"repo": REPO, "number": 1, "field": "body"})
    assert answer["error"]["code"] == "forbidden"
    blur = await carol.call("draft_focus", {"repo": REPO, "number": 1, "field": None})
    assert blur["ok"] and blur["fields"] == {}


async def test_a_viewer_answering_the_servers_step1_is_welcome(live: Live) -> None:
    bob = await yjs_editor(live, TOKEN_B)
    await bob.insert(0, "some text")
    await op_delete(bob)
    carol = YjsEditor(await live.connect(TOKEN_C), 1)
    await carol.client.call("join_project", {"repo": REPO})
    opened = await carol.open()
    _, state_vector = protocol.read_sync(opened["sync_step1"])
    answer = await carol.client.call(
        "draft:sync",
        {
            "repo": REPO,
            "number": 1,
            "message": protocol.step2(carol.doc.get_update(state_vector)),
        },
    )
    assert answer["ok"], answer
    # But a viewer's step 2 that deletes something is an edit, and refused.
    del carol.body[0:4]
    sneaky = protocol.step2(carol.doc.get_update(state_vector))
    refused = await carol.client.call("draft:sync", {"repo": REPO, "number": 1, "message": sneaky})
    assert refused["error"]["code"] == "forbidden"


async def op_delete(editor: YjsEditor) -> None:
    """A deletion, so the document's delete set is not empty."""
    del editor.body[0:5]
    await editor.flush()
