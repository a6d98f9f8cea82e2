"""Saving a draft to GitHub, and GitHub's own changes flowing into open drafts: the fake
GitHub holds the issue; what it ends with, and what was sent to it, are the evidence."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from realtime.drafts.document import IssueValues
from tests.fakes.waiting import wait_until
from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import TOKEN_C, Client, Live, issue_payload
from tests.realtime.editors import REPO, YjsEditor, op

SAVE = {"repo": REPO, "number": 1}


async def opened(live: Live, token: str, number: int = 1) -> Client:
    client = await live.connect(token)
    assert (await client.call("join_project", {"repo": REPO}))["ok"]
    answer = await client.call("open_issue", {"repo": REPO, "number": number})
    assert answer["ok"], answer
    return client


def patches(live: Live) -> list[dict[str, Any]]:
    return [
        json.loads(r.body)
        for r in live.github.requests
        if r.method == "PATCH" and r.path.endswith("/issues/1")
    ]


def merges(live: Live, outcome: str) -> float:
    metrics = live.hub.metrics
    assert metrics is not None
    return metrics.draft_merges.labels(outcome)._value.get()


async def test_a_save_writes_only_what_changed_as_the_saver(live: Live) -> None:
    bob = await opened(live, TOKEN_B)
    carol = await opened(live, TOKEN_C)
    await op(bob, 1, "splice_body", index=0, insert="Repro: click twice")
    await op(bob, 1, "add_label", label="bug")

    saved = await bob.call("save_issue", SAVE)
    assert saved["ok"] and saved["saved"] is True, saved
    assert saved["fields"] == ["body", "labels"]
    assert patches(live) == [{"body": "Repro: click twice", "labels": ["bug"]}]
    patch = next(r for r in live.github.requests if r.method == "PATCH")
    assert patch.token == TOKEN_B

    issue = live.github.issue("octo", "hello", 1)
    assert issue["body"] == "Repro: click twice"
    assert [label["name"] for label in issue["labels"]] == ["bug"]
    assert saved["updated_at"] == issue["updated_at"]
    notice = await carol.wait_for("issue_saved")
    assert notice[0]["by"] == "bob" and notice[0]["updated_at"] == issue["updated_at"]
    changed = await carol.wait_for(
        "draft_changed", lambda d: d["base_updated_at"] == issue["updated_at"]
    )
    assert changed[0]["body"] == "Repro: click twice"
    # The durable plane has it too: project members see it as an event.
    event = await carol.wait_for("github_event", lambda e: e["type"] == "hubbub.issue_saved")
    assert event[0]["subject"]["number"] == 1 and event[0]["actor"] == "bob"

    again = await bob.call("save_issue", SAVE)
    assert again["ok"] and again["saved"] is False
    assert len(patches(live)) == 1
    # The write is settled: nothing of it is left to be taken for a later base.
    stored = await live.gateway.store.hgetall(live.gateway.keys.draft(live.repo.id, 1))
    assert "pending" not in stored and stored["base_at"] == issue["updated_at"]


async def test_a_change_made_on_github_meanwhile_is_merged_not_overwritten(live: Live) -> None:
    live.github.edit_issue("octo", "hello", 1, body="line one\nline two\n")
    bob = YjsEditor(await live.connect(TOKEN_B), 1)
    await bob.client.call("join_project", {"repo": REPO})
    await bob.open()
    await bob.insert(0, "Bob: ")  # at the start of the body
    # Someone edits on github.com: the title, and the end of the body.
    live.github.edit_issue(
        "octo", "hello", 1, title="First (edited on GitHub)", body="line one\nline two\nline 3\n"
    )

    saved = await bob.client.call("save_issue", SAVE)
    assert saved["ok"] and saved["saved"] and saved["merged"], saved
    issue = live.github.issue("octo", "hello", 1)
    assert issue["title"] == "First (edited on GitHub)"
    assert issue["body"] == "Bob: line one\nline two\nline 3\n"
    # Only the body was still different after the merge; the title was GitHub's already.
    assert patches(live)[-1] == {"body": "Bob: line one\nline two\nline 3\n"}
    await bob.wait_until(lambda e: e.text == "Bob: line one\nline two\nline 3\n")


async def test_the_webhook_echo_of_our_own_save_merges_nothing(live: Live) -> None:
    bob = await opened(live, TOKEN_B)
    await op(bob, 1, "splice_body", index=0, insert="saved text")
    saved = await bob.call("save_issue", SAVE)
    assert saved["saved"]
    before = merges(live, "merged")
    current = merges(live, "current")

    await live.deliver("issues", issue_payload(live.repo, 1, "edited", "First"))
    # The echo is recognised as what the draft holds. (GitHub is read when the delivery
    # is handled: an edit made before that would be the echo's to merge.)
    await wait_until(lambda: merges(live, "current") >= current + 1)
    assert merges(live, "merged") == before
    # A foreign edit after it is merged.
    live.github.edit_issue("octo", "hello", 1, body="saved text\nfrom github")
    await live.deliver("issues", issue_payload(live.repo, 1, "edited", "First"))
    changed = await bob.wait_for("draft_changed", lambda d: d["body"].endswith("from github"))
    assert changed[0]["body"] == "saved text\nfrom github"
    assert merges(live, "merged") == before + 1


async def test_a_foreign_edit_on_github_reaches_open_editors_live(live: Live) -> None:
    live.github.edit_issue("octo", "hello", 1, body="alpha\n")
    bob = await opened(live, TOKEN_B)
    carol = await opened(live, TOKEN_C)
    await op(bob, 1, "splice_body", index=0, insert="draft: ")  # unsaved

    live.github.edit_issue("octo", "hello", 1, body="alpha\nbeta\n", labels=["triage"])
    await live.deliver("issues", issue_payload(live.repo, 1, "edited", "First"))
    for client in (bob, carol):
        seen = await client.wait_for("draft_changed", lambda d: d["body"] == "draft: alpha\nbeta\n")
        assert seen[0]["labels"] == ["triage"]
    assert patches(live) == []  # merging never writes


async def test_a_save_without_write_access_is_refused_and_sends_nothing(live: Live) -> None:
    carol = await opened(live, TOKEN_C)
    refused = await carol.call("save_issue", SAVE)
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    assert patches(live) == []


async def test_githubs_422_is_reported_and_the_draft_kept(live: Live) -> None:
    bob = await opened(live, TOKEN_B)
    await op(bob, 1, "splice_body", index=0, insert="keep me")
    await op(bob, 1, "set_milestone", milestone=99)  # no such milestone at GitHub
    failed = await bob.call("save_issue", SAVE)
    assert failed["ok"] is False
    assert failed["error"]["code"] == "validation_failed"
    assert failed["error"]["details"] == [
        {"resource": "Issue", "field": "milestone", "code": "invalid"}
    ]
    assert not live.github.issue("octo", "hello", 1)["body"]
    kept = await op(bob, 1, "splice_body", index=0, insert="")
    assert kept["draft"]["body"] == "keep me" and kept["draft"]["milestone"] == 99

    live.github.add_milestone("octo", "hello", 99, "someday")
    saved = await bob.call("save_issue", SAVE)
    assert saved["saved"], saved
    assert live.github.issue("octo", "hello", 1)["milestone"]["number"] == 99


async def test_a_spent_rate_limit_is_reported_with_when_to_retry(live: Live) -> None:
    bob = await opened(live, TOKEN_B)
    await op(bob, 1, "splice_body", index=0, insert="later")
    live.github.set_rate_limit(TOKEN_B, remaining=0)
    failed = await bob.call("save_issue", SAVE)
    assert failed["ok"] is False and failed["error"]["code"] == "rate_limited", failed
    assert failed["error"]["retry_after_ms"] > 0
    kept = await op(bob, 1, "splice_body", index=0, insert="")
    assert kept["draft"]["body"] == "later"


async def test_two_savers_at_once_write_once(live: Live) -> None:
    """One takes the writer lease and writes; the other waits for it, re-reads, and finds
    nothing left to write."""
    live.repo.writers.add("alice")
    alice = await opened(live, TOKEN_A)
    bob = await opened(live, TOKEN_B)
    await op(bob, 1, "splice_body", index=0, insert="both save this")
    answers = await asyncio.gather(alice.call("save_issue", SAVE), bob.call("save_issue", SAVE))
    assert [a["ok"] for a in answers] == [True, True]
    assert sorted(a["saved"] for a in answers) == [False, True]
    assert len(patches(live)) == 1


async def test_autosave_saves_as_the_last_editor_once_typing_stops(make_live: Any) -> None:
    live = await make_live(draft_autosave_s=0.3)
    bob = await opened(live, TOKEN_B)
    carol = await opened(live, TOKEN_C)
    for word in ("auto", "saved"):
        await op(bob, 1, "splice_body", index=0, insert=word)
    notice = await carol.wait_for("issue_saved")
    assert notice[0]["by"] == "bob"
    assert live.github.issue("octo", "hello", 1)["body"] == "savedauto"
    assert len(patches(live)) == 1  # one save for the burst, not one per edit
    assert next(r for r in live.github.requests if r.method == "PATCH").token == TOKEN_B


async def test_a_failed_autosave_tells_the_editor_why(make_live: Any) -> None:
    live = await make_live(draft_autosave_s=0.2)
    bob = await opened(live, TOKEN_B)
    await op(bob, 1, "set_milestone", milestone=42)  # unknown to GitHub: a 422
    failed = await bob.wait_for("issue_save_failed")
    assert failed[0]["error"]["code"] == "validation_failed"
    assert patches(live) == [{"milestone": 42}]


async def test_what_github_does_not_keep_is_reported_and_leaves_the_draft(live: Live) -> None:
    bob = await opened(live, TOKEN_B)
    await op(bob, 1, "add_assignee", login="bob")
    await op(bob, 1, "add_assignee", login="stranger")  # cannot be assigned at GitHub
    saved = await bob.call("save_issue", SAVE)
    assert saved["saved"] and saved["not_kept"] == ["assignees"], saved
    assigned = live.github.issue("octo", "hello", 1)["assignees"]
    assert [a["login"] for a in assigned] == ["bob"]
    after = await op(bob, 1, "splice_body", index=0, insert="")
    assert after["draft"]["assignees"] == ["bob"]
    again = await bob.call("save_issue", SAVE)
    assert again["saved"] is False  # nothing left to write: the draft matches GitHub


async def test_a_save_whose_answer_was_lost_is_not_merged_back_twice(live: Live) -> None:
    """The machine died between GitHub's answer and recording it as the base: the echo
    finds GitHub holding exactly what the save sent, and merges nothing."""
    live.github.edit_issue("octo", "hello", 1, body="Hello")
    bob = YjsEditor(await live.connect(TOKEN_B), 1)
    await bob.client.call("join_project", {"repo": REPO})
    await bob.open()
    await bob.insert(5, " world")
    store, keys = live.gateway.store, live.gateway.keys
    draft_key = keys.draft(live.repo.id, 1)
    before = await store.hgetall(draft_key)
    assert (await bob.client.call("save_issue", SAVE))["saved"]
    after = await store.hgetall(draft_key)
    # As the machine left it: the write recorded as pending, GitHub's answer not as base.
    sent = IssueValues.from_github(live.github.issue("octo", "hello", 1)).to_json()
    await store.hset(
        draft_key,
        {
            "base": before["base"],
            "base_at": before["base_at"],
            "pending": after["base"],
            "pending_values": sent,
        },
    )

    heard = bob.updates
    await live.deliver("issues", issue_payload(live.repo, 1, "edited", "First"))
    await bob.wait_until(lambda e: e.updates > heard)  # the echo, merged
    live.github.edit_issue("octo", "hello", 1, body="Hello world\nand more")
    await live.deliver("issues", issue_payload(live.repo, 1, "edited", "First"))
    await bob.wait_until(lambda e: e.text.endswith("more"))
    assert bob.text == "Hello world\nand more"
