"""An agent in an issue's live editing: people in the room see it arrive, see its edits
arrive as another participant's, and its save goes through the same conflict checks as
theirs. Real server, real Socket.IO clients, the SDK's MCP client over HTTP."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from realtime import agents
from realtime.agents import AgentRooms
from tests.fakes.waiting import wait_until
from tests.mcp.conftest import data_of, mcp_client, text_of
from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import TOKEN_C, Client, Live
from tests.realtime.editors import REPO
from tests.webhooks.conftest import fixture_payload

ISSUE = {"owner": "octo", "repo": "hello", "issue_number": 1}


@pytest.fixture
async def room(make_live: Any) -> Live:
    return await make_live(mcp_toolsets=("all",))


async def person_in_issue(live: Live, token: str) -> Client:
    person = await live.connect(token)
    assert (await person.call("join_project", {"repo": REPO}))["ok"]
    assert (await person.call("open_issue", {"repo": REPO, "number": 1}))["ok"]
    return person


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_agents_edit_reaches_the_people_in_the_room(room: Live, mode: str) -> None:
    carol = await person_in_issue(room, TOKEN_C)
    async with mcp_client(room.url, TOKEN_B, mode=mode) as agent:
        joined = data_of(await agent.call_tool("live_join_issue", {**ISSUE, "name": "triage-bot"}))[
            "item"
        ]
        [arrived] = await carol.wait_for(
            "presence", lambda d: d["type"] == "joined" and d["member"].get("agent")
        )
        assert arrived["member"]["agent"] == "triage-bot"
        assert arrived["member"]["login"] == "bob"
        assert joined["draft"]["title"] == "First"
        assert [p["login"] for p in joined["people"]] == ["carol"]

        edited = data_of(
            await agent.call_tool(
                "live_edit",
                {
                    "handle": joined["handle"],
                    "ops": [
                        {"op": "append_to_body", "text": "Repro: open the app twice."},
                        {"op": "replace_in_body", "old": "twice", "new": "three times"},
                        {"op": "add_label", "label": "bug"},
                    ],
                },
            )
        )["item"]
        assert edited["applied"] == 3
        [seen] = await carol.wait_for("draft_changed", lambda d: d["version"] == edited["version"])
        assert seen["body"] == "Repro: open the app three times."
        assert seen["labels"] == ["bug"]

        saved = await agent.call_tool("live_save", {"handle": joined["handle"]})
        assert not saved.is_error, text_of(saved)
        on_github = room.github.issue("octo", "hello", 1)
        assert on_github["body"] == "Repro: open the app three times."
        assert [label["name"] for label in on_github["labels"]] == ["bug"]

        data_of(await agent.call_tool("live_leave", {"handle": joined["handle"]}))
        await carol.wait_for(
            "presence",
            lambda d: d["type"] == "left" and d["member"].get("agent") == "triage-bot",
        )


async def test_a_save_merges_a_change_made_on_github_meanwhile(room: Live) -> None:
    room.github.edit_issue("octo", "hello", 1, body="Line one\nLine two")
    async with mcp_client(room.url, TOKEN_B) as agent:
        handle = data_of(await agent.call_tool("live_join_issue", ISSUE))["item"]["handle"]
        data_of(
            await agent.call_tool(
                "live_edit",
                {"handle": handle, "ops": [{"op": "replace_in_body", "old": "one", "new": "1"}]},
            )
        )
        # Someone edits the other line on github.com before the agent saves.
        room.github.edit_issue("octo", "hello", 1, body="Line one\nLine 2")
        saved = await agent.call_tool("live_save", {"handle": handle})
    assert not saved.is_error, text_of(saved)
    assert room.github.issue("octo", "hello", 1)["body"] == "Line 1\nLine 2"


async def test_a_handle_is_useless_to_another_user(room: Live) -> None:
    async with mcp_client(room.url, TOKEN_B) as bob, mcp_client(room.url, TOKEN_A) as alice:
        handle = data_of(await bob.call_tool("live_join_issue", ISSUE))["item"]["handle"]
        stolen = await alice.call_tool(
            "live_edit", {"handle": handle, "ops": [{"op": "set_title", "title": "Mine"}]}
        )
        peek = await alice.call_tool("live_read_draft", {"handle": handle})
    assert stolen.is_error and peek.is_error
    assert "Unknown or expired handle" in text_of(stolen)
    assert room.github.issue("octo", "hello", 1)["title"] == "First"


async def test_a_reader_may_join_but_not_edit(room: Live) -> None:
    async with mcp_client(room.url, TOKEN_C) as reader:
        handle = data_of(await reader.call_tool("live_join_issue", ISSUE))["item"]["handle"]
        refused = await reader.call_tool(
            "live_edit", {"handle": handle, "ops": [{"op": "set_title", "title": "Mine"}]}
        )
        draft = data_of(await reader.call_tool("live_read_draft", {"handle": handle}))
    assert refused.is_error and text_of(refused).startswith("No permission")
    assert draft["item"]["draft"]["title"] == "First"


async def test_an_edit_that_cannot_apply_says_why_and_changes_nothing(room: Live) -> None:
    async with mcp_client(room.url, TOKEN_B) as agent:
        handle = data_of(await agent.call_tool("live_join_issue", ISSUE))["item"]["handle"]
        refused = await agent.call_tool(
            "live_edit",
            {"handle": handle, "ops": [{"op": "replace_in_body", "old": "absent", "new": "x"}]},
        )
        draft = data_of(await agent.call_tool("live_read_draft", {"handle": handle}))
    assert refused.is_error and "does not occur" in text_of(refused)
    assert draft["item"]["draft"]["body"] == ""


async def test_who_is_here_lists_people_and_agents(room: Live) -> None:
    carol = await room.connect(TOKEN_C)
    assert (await carol.call("join_project", {"repo": REPO}))["ok"]
    async with mcp_client(room.url, TOKEN_B) as agent:
        data_of(await agent.call_tool("live_join_issue", {**ISSUE, "name": "helper"}))
        everyone = data_of(await agent.call_tool("who_is_here", {"owner": "octo", "repo": "hello"}))
        in_issue = data_of(await agent.call_tool("who_is_here", {**ISSUE}))
        hidden = await agent.call_tool("who_is_here", {"owner": "octo", "repo": "secret"})
    assert {(p["login"], p["agent"]) for p in everyone["items"]} == {
        ("carol", None),
        ("bob", "helper"),
    }
    assert [(p["login"], p["agent"]) for p in in_issue["items"]] == [("bob", "helper")]
    assert hidden.is_error


async def test_an_agent_that_stops_calling_leaves_by_itself(
    room: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agents, "AGENT_IDLE_S", 0.2)
    carol = await person_in_issue(room, TOKEN_C)
    async with mcp_client(room.url, TOKEN_B) as agent:
        data_of(await agent.call_tool("live_join_issue", {**ISSUE, "name": "sleepy"}))
        await carol.wait_for(
            "presence", lambda d: d["type"] == "left" and d["member"].get("agent") == "sleepy"
        )
    replica = room.hub.drafts.replicas[(room.repo.id, 1)]  # type: ignore[union-attr]
    assert all(not sid.startswith("agent:") for sid in replica.editors)


async def test_an_agent_that_loses_read_access_is_put_out(room: Live) -> None:
    secret = room.github.repos["octo/secret"]
    room.github.add_issue("octo", "secret", title="Private", body="do not leak", number=1)
    async with mcp_client(room.url, TOKEN_A) as agent:
        handle = data_of(
            await agent.call_tool(
                "live_join_issue", {"owner": "octo", "repo": "secret", "issue_number": 1}
            )
        )["item"]["handle"]
        secret.readers.discard("alice")  # changed on github.com
        payload = copy.deepcopy(fixture_payload("member", "added"))
        payload["action"] = "removed"
        payload["repository"].update(id=secret.id, name="secret", full_name="octo/secret")
        payload["repository"]["owner"]["login"] = "octo"
        await room.deliver("member", payload)
        await wait_until(lambda: handle not in room_agents(room).here)
        refused = await agent.call_tool("live_read_draft", {"handle": handle})
    assert refused.is_error and "do not leak" not in text_of(refused)


async def test_the_same_user_with_another_token_takes_the_handle_over(room: Live) -> None:
    other_token = "ghp_bobSECONDbobSECONDbobSECONDbobSECOND0"
    user_id = room.github.tokens()[TOKEN_B][1]
    room.github.add_user(other_token, "bob", user_id=user_id)
    async with mcp_client(room.url, TOKEN_B) as first, mcp_client(room.url, other_token) as then:
        handle = data_of(await first.call_tool("live_join_issue", ISSUE))["item"]["handle"]
        edit = {"handle": handle, "ops": [{"op": "append_to_body", "text": "more"}]}
        for _ in range(2):
            assert not (await then.call_tool("live_edit", edit)).is_error
            assert not (await first.call_tool("live_edit", edit)).is_error
        draft = data_of(await first.call_tool("live_read_draft", {"handle": handle}))
    assert draft["item"]["draft"]["body"] == "more" * 4
    assert len(room_agents(room).here) == 1


def room_agents(room: Live) -> AgentRooms:
    """The server's agents, found by the event listener they registered."""
    [found] = [
        listener.__self__
        for listener in room.hub.event_listeners
        if isinstance(getattr(listener, "__self__", None), AgentRooms)
    ]
    return found


async def test_an_agent_back_after_going_idle_arrives_again(
    room: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agents, "AGENT_IDLE_S", 0.2)
    carol = await person_in_issue(room, TOKEN_C)
    async with mcp_client(room.url, TOKEN_B) as agent:
        joined = data_of(await agent.call_tool("live_join_issue", {**ISSUE, "name": "nap"}))
        handle = joined["item"]["handle"]

        def about_nap(kind: str) -> Any:
            return lambda d: d["type"] == kind and d["member"].get("agent") == "nap"

        await carol.wait_for("presence", about_nap("left"))
        data_of(await agent.call_tool("live_read_draft", {"handle": handle}))
        await carol.wait_for("presence", about_nap("joined"), count=2)
        first = data_of(await agent.call_tool("live_leave", {"handle": handle}))
        again = data_of(await agent.call_tool("live_leave", {"handle": handle}))
    assert first["item"]["left"] and again["item"]["left"]
    assert "already ended" in again["item"]["note"]
