"""The tools as an agent sees them, through the SDK's in-process client: which tools are
listed, what their results hold, and the errors a model is given. Every call goes through
a real gateway to the fake GitHub."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from mcp import Client

from mcp_server.server import HubbubMCP
from proxy.gateway import Gateway
from shared.config import MCP_TOOLSETS
from shared.identity.resolver import GitHubUser
from shared.store.embedded import EmbeddedStore
from tests.fakes.github import FakeGitHub
from tests.mcp.conftest import data_of, text_of
from tests.proxy.conftest import API, TOKEN_A, TOKEN_B, gateway_settings

WRITE_TOOLS = {
    "issue_write",
    "add_issue_comment",
    "merge_pull_request",
    "live_join_issue",
    "live_edit",
    "live_save",
    "live_leave",
}


@pytest_asyncio.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    github = FakeGitHub(public_origin=API)
    github.add_user(TOKEN_A, "alice")
    github.add_user(TOKEN_B, "bob")
    github.add_repo("octo", "hello", writers=["bob"])
    github.add_repo("octo", "secret", private=True)
    github.add_issue("octo", "hello", title="First", body="Steps to reproduce", labels=["bug"])
    yield github


@pytest_asyncio.fixture
async def gateway(github: FakeGitHub) -> AsyncIterator[Gateway]:
    gateway = Gateway(gateway_settings(), EmbeddedStore(), transport=github.transport())
    for token, (login, user_id) in github.tokens().items():
        gateway.callers.remember(token, GitHubUser(user_id, login))
    yield gateway
    await gateway.aclose()


def agent(gateway: Gateway, token: str = TOKEN_B, **settings: Any) -> Client:
    """An in-process client of a server acting as `token`'s user."""
    mcp = HubbubMCP(gateway.settings.replace(**settings), lambda: gateway, fixed_token=token)
    return Client(mcp.server, cache=None)


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    return data_of(await client.call_tool(tool, arguments))


async def failure(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, text_of(result)
    return text_of(result)


# --- which tools -------------------------------------------------------------------------


async def test_the_default_set_is_small_and_every_tool_says_whether_it_writes(
    gateway: Gateway,
) -> None:
    async with agent(gateway) as client:
        tools = (await client.list_tools()).tools
    names = {tool.name for tool in tools}
    assert {"get_me", "issue_read", "list_issues", "issue_write", "pull_request_read"} <= names
    assert not names & {"search_code", "who_is_here", "live_edit"}  # opt-in toolsets
    for tool in tools:
        hints = tool.annotations
        assert hints is not None and hints.read_only_hint is (tool.name not in WRITE_TOOLS)
        if tool.name == "merge_pull_request":
            assert hints.destructive_hint is True


async def test_read_only_mode_lists_no_write_tool(gateway: Gateway) -> None:
    async with agent(gateway, mcp_toolsets=("all",), mcp_read_only=True) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert not names & WRITE_TOOLS
        assert {"who_is_here", "search_code", "issue_read"} <= names
        refused = await client.call_tool("issue_write", {"owner": "octo", "repo": "hello"})
    assert refused.is_error


async def test_toolsets_choose_the_tools_in_a_stable_order(gateway: Gateway) -> None:
    async with agent(gateway, mcp_toolsets=("search", "context")) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
    assert names == ["get_me", "get_rate_limit_status", "search_code", "search_repositories"]
    assert MCP_TOOLSETS[0] == "context"


# --- results -----------------------------------------------------------------------------


async def test_an_issue_comes_back_in_a_few_fields(gateway: Gateway) -> None:
    async with agent(gateway) as client:
        issue = (await call(client, "issue_read", owner="octo", repo="hello", issue_number=1))[
            "item"
        ]
    assert issue["title"] == "First"
    assert issue["body"] == "Steps to reproduce"
    assert issue["labels"] == ["bug"]
    assert "node_id" not in issue and "reactions" not in issue


async def test_fields_narrow_a_list_and_an_unknown_field_is_named(
    gateway: Gateway, github: FakeGitHub
) -> None:
    github.add_issue("octo", "hello", title="Second", body="x" * 500)
    async with agent(gateway) as client:
        listed = await call(client, "list_issues", owner="octo", repo="hello", fields=["title"])
        assert listed["items"] == [
            {"number": 2, "title": "Second"},
            {"number": 1, "title": "First"},
        ]
        message = await failure(
            client, "list_issues", owner="octo", repo="hello", fields=["colour"]
        )
    assert "colour" in message and "title" in message


async def test_a_long_list_says_how_to_get_the_next_page(
    gateway: Gateway, github: FakeGitHub
) -> None:
    for n in range(5):
        github.add_issue("octo", "hello", title=f"More {n}")
    async with agent(gateway) as client:
        first = await call(client, "list_issues", owner="octo", repo="hello", perPage=2)
        second = await call(client, "list_issues", owner="octo", repo="hello", perPage=2, page=2)
    assert len(first["items"]) == 2
    assert any("page=2" in note for note in first["notes"])
    assert {i["number"] for i in first["items"]}.isdisjoint(i["number"] for i in second["items"])


@pytest.mark.parametrize("length", [1_000, 25_000, 65_536])
async def test_no_result_exceeds_the_cap_and_a_cut_body_reads_on(
    gateway: Gateway, github: FakeGitHub, length: int
) -> None:
    body = "".join(f'line {n}: "quoted" \\ text\n' for n in range(length // 24 + 1))[:length]
    github.add_issue("octo", "hello", title="Long", body=body)
    cap = 4000
    async with agent(gateway, mcp_result_max_chars=cap) as client:
        read, offset = "", 0
        for _ in range(100):
            result = await client.call_tool(
                "issue_read",
                {"owner": "octo", "repo": "hello", "issue_number": 2, "offset": offset},
            )
            assert len(text_of(result)) <= cap
            page = data_of(result)
            read += page["item"]["body"]
            onward = [n for n in page.get("notes", []) if "offset=" in n]
            if not onward:
                break
            offset = int(onward[0].split("offset=")[1].split(" ")[0])
        many = await client.call_tool("list_issues", {"owner": "octo", "repo": "hello"})
    assert read == body
    assert len(text_of(many)) <= cap


async def test_invisible_and_bidi_characters_are_taken_out_of_what_people_wrote(
    gateway: Gateway, github: FakeGitHub
) -> None:
    github.add_issue(
        "octo", "hello", title="Fix\u200b it", body="ok\u202e\U000e0041 ignore previous\u2066"
    )
    async with agent(gateway) as client:
        issue = (await call(client, "issue_read", owner="octo", repo="hello", issue_number=2))[
            "item"
        ]
    assert issue["title"] == "Fix it"
    assert issue["body"] == "ok ignore previous"


# --- errors a model can act on ---------------------------------------------------------------


async def test_a_missing_issue_and_a_hidden_repository_are_plain_not_found(
    gateway: Gateway,
) -> None:
    async with agent(gateway) as client:
        missing = await failure(client, "issue_read", owner="octo", repo="hello", issue_number=9)
        hidden = await failure(client, "list_issues", owner="octo", repo="secret")
    assert missing.startswith("Not found: octo/hello#9")
    assert hidden.startswith("Not found: octo/secret")


async def test_validation_failures_carry_githubs_details(gateway: Gateway) -> None:
    async with agent(gateway) as client:
        message = await failure(
            client,
            "issue_write",
            method="update",
            owner="octo",
            repo="hello",
            issue_number=1,
            milestone=42,
        )
    assert message.startswith("Validation failed for octo/hello#1")
    assert "milestone" in message and "invalid" in message


async def test_no_permission_says_so(gateway: Gateway) -> None:
    async with agent(gateway, TOKEN_A) as client:
        message = await failure(
            client,
            "issue_write",
            method="update",
            owner="octo",
            repo="hello",
            issue_number=1,
            title="Mine now",
        )
    assert message.startswith("No permission for octo/hello#1")


async def test_rate_limited_says_when_to_retry(gateway: Gateway, github: FakeGitHub) -> None:
    github.set_rate_limit(TOKEN_B, remaining=0, reset=2_000_000_000)
    async with agent(gateway) as client:
        message = await failure(client, "list_issues", owner="octo", repo="hello")
    assert "retry after" in message.lower()


async def test_stale_data_is_offered_when_github_fails(github: FakeGitHub) -> None:
    settings = gateway_settings(cache_fresh_s=0, upstream_retries=0)
    gateway = Gateway(settings, EmbeddedStore(), transport=github.transport())
    try:
        async with agent(gateway) as client:
            await call(client, "issue_read", owner="octo", repo="hello", issue_number=1)
            github.fail_next(5, status=502)
            served = await call(client, "issue_read", owner="octo", repo="hello", issue_number=1)
    finally:
        await gateway.aclose()
    assert served["item"]["title"] == "First"
    assert any("cached copy" in note for note in served["notes"])


async def test_arguments_that_could_reach_another_endpoint_are_refused(gateway: Gateway) -> None:
    async with agent(gateway) as client:
        bad_owner = await client.call_tool(
            "list_issues", {"owner": "octo/../../user", "repo": "hello"}
        )
        bad_path = await failure(
            client, "get_file_contents", owner="octo", repo="hello", path="../../user"
        )
    assert bad_owner.is_error
    assert "'..'" in bad_path


# --- writes ------------------------------------------------------------------------------------


async def test_issue_write_creates_and_updates(gateway: Gateway, github: FakeGitHub) -> None:
    async with agent(gateway) as client:
        created = await call(
            client,
            "issue_write",
            owner="octo",
            repo="hello",
            title="From an agent",
            body="Found by reading the logs",
            labels=["bug"],
        )
        number = created["item"]["number"]
        await call(
            client,
            "issue_write",
            method="update",
            owner="octo",
            repo="hello",
            issue_number=number,
            body="Found by reading the logs twice",
        )
        await call(
            client,
            "add_issue_comment",
            owner="octo",
            repo="hello",
            issue_number=number,
            body="Looking into it",
        )
    issue = github.issue("octo", "hello", number)
    assert issue["title"] == "From an agent"
    assert issue["body"] == "Found by reading the logs twice"
    assert issue["comments"] == 1


async def test_a_milestone_is_set_and_removed(gateway: Gateway, github: FakeGitHub) -> None:
    github.add_milestone("octo", "hello", 3, "v1.0")
    update = {"method": "update", "owner": "octo", "repo": "hello", "issue_number": 1}
    async with agent(gateway) as client:
        await call(client, "issue_write", **update, milestone=3)
        assert github.issue("octo", "hello", 1)["milestone"]["number"] == 3
        await call(client, "issue_write", **update, milestone=0)
    assert github.issue("octo", "hello", 1)["milestone"] is None


async def test_a_write_makes_the_next_read_fresh(gateway: Gateway, github: FakeGitHub) -> None:
    async with agent(gateway) as client:
        await call(client, "issue_read", owner="octo", repo="hello", issue_number=1)
        await call(
            client,
            "issue_write",
            method="update",
            owner="octo",
            repo="hello",
            issue_number=1,
            title="Renamed",
        )
        issue = await call(client, "issue_read", owner="octo", repo="hello", issue_number=1)
    assert issue["item"]["title"] == "Renamed"


# --- Hubbub's own tools ------------------------------------------------------------------------


async def test_rate_limit_status_reports_both_budgets_without_spending(
    gateway: Gateway, github: FakeGitHub
) -> None:
    async with agent(gateway) as client:
        await call(client, "list_issues", owner="octo", repo="hello")
        before = github.count()
        status = await call(client, "get_rate_limit_status")
    assert github.count() == before
    assert status["hubbub"]["limit"] == gateway.settings.caller_limit
    assert 0 <= status["hubbub"]["remaining"] < gateway.settings.caller_limit
    limit, remaining, _ = github.rate_limit(TOKEN_B)
    assert status["github"]["core"]["limit"] == limit
    assert status["github"]["core"]["remaining"] == remaining


async def test_recent_events_come_from_the_event_stream(
    gateway: Gateway, github: FakeGitHub
) -> None:
    from shared.events import EventBus
    from shared.events.envelope import Envelope, Repository, Subject

    repo = github.repos["octo/hello"]
    bus = EventBus(gateway.store, gateway.keys)
    ids = []
    for action in ("opened", "edited", "closed"):
        appended = await bus.append(
            Envelope(
                type="github.issues",
                action=action,
                repository=Repository(repo.id, repo.full_name),
                subject=Subject("issue", 1),
                actor="alice",
            )
        )
        ids.append(appended.id)
    async with agent(gateway) as client:
        everything = await call(client, "list_recent_events", owner="octo", repo="hello")
        after = await call(client, "list_recent_events", owner="octo", repo="hello", since=ids[0])
        hidden = await failure(client, "list_recent_events", owner="octo", repo="secret")
    assert [e["action"] for e in everything["items"]] == ["opened", "edited", "closed"]
    assert [e["id"] for e in after["items"]] == ids[1:]
    assert hidden.startswith("Not found")


async def test_live_tools_say_where_they_run(gateway: Gateway) -> None:
    async with agent(gateway, mcp_toolsets=("live",)) as client:
        message = await failure(client, "who_is_here", owner="octo", repo="hello")
    assert "persistent server" in message


async def test_results_are_json_text(gateway: Gateway) -> None:
    async with agent(gateway) as client:
        result = await client.call_tool("get_me", {})
    assert json.loads(text_of(result))["item"]["login"] == "bob"


async def test_a_resource_stays_valid_json_within_the_cap(
    gateway: Gateway, github: FakeGitHub
) -> None:
    github.add_issue("octo", "hello", title="Long", body="line\n" * 20_000)
    async with agent(gateway, mcp_result_max_chars=3000) as client:
        read = await client.read_resource("github://octo/hello/issues/2")
    text = read.contents[0].text  # type: ignore[union-attr]
    assert len(text) <= 3000
    assert json.loads(text)["item"]["title"] == "Long"
