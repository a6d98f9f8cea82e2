"""A change to an issue reaches the agents watching it, in both protocol eras: from a
webhook delivery, and from another agent's write. Only a reader may watch."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import ResourceUpdatedNotification

from mcp_server.subscriptions import LISTENS_PER_CALLER
from tests.mcp.conftest import data_of, mcp_client
from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import Live

ISSUE = "github://octo/hello/issues/1"
ACTIVITY = "github://octo/hello/events"
WAIT_S = 10


class Heard:
    """A legacy client's `resources/updated` notifications."""

    def __init__(self) -> None:
        self.uris: list[str] = []
        self.changed = asyncio.Condition()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            async with self.changed:
                self.uris.append(str(message.params.uri))
                self.changed.notify_all()

    async def wait_for(self, uri: str, count: int = 1) -> None:
        async with asyncio.timeout(WAIT_S), self.changed:
            await self.changed.wait_for(lambda: self.uris.count(uri) >= count)


async def test_a_webhook_about_an_issue_tells_a_legacy_subscriber(live: Live) -> None:
    heard = Heard()
    async with mcp_client(live.url, TOKEN_A, mode="legacy", message_handler=heard) as client:
        await client.subscribe_resource(ISSUE)
        await client.subscribe_resource(ACTIVITY)
        await live.issue_event(1, title="Renamed on GitHub")
        await heard.wait_for(ISSUE)
        await heard.wait_for(ACTIVITY)
        await live.issue_event(2)
        # An event about another issue tells only the repository's activity again.
        await heard.wait_for(ACTIVITY, count=2)
    assert "github://octo/hello/issues/2" not in heard.uris


async def test_a_webhook_about_an_issue_reaches_a_listen_stream(live: Live) -> None:
    async with (
        mcp_client(live.url, TOKEN_A) as client,
        # GitHub's names ignore case, and so does a subscription.
        client.listen(resource_subscriptions=[ISSUE.replace("octo", "Octo")]) as subscription,
    ):
        assert subscription.honored is not None
        await live.issue_event(1, title="Renamed on GitHub")
        async with asyncio.timeout(WAIT_S):
            event = await anext(aiter(subscription))
    assert event.uri == ISSUE  # type: ignore[union-attr]


async def test_another_agents_write_tells_the_subscribers(live: Live) -> None:
    heard = Heard()
    async with (
        mcp_client(live.url, TOKEN_A, mode="legacy", message_handler=heard) as watcher,
        mcp_client(live.url, TOKEN_B) as writer,
    ):
        await watcher.subscribe_resource(ISSUE)
        data_of(
            await writer.call_tool(
                "add_issue_comment",
                {"owner": "octo", "repo": "hello", "issue_number": 1, "body": "On it"},
            )
        )
        await heard.wait_for(ISSUE)


async def test_only_a_reader_may_watch(live: Live) -> None:
    secret = "github://octo/secret/issues/1"
    async with mcp_client(live.url, TOKEN_B, mode="legacy") as legacy:
        with pytest.raises(MCPError, match="cannot read octo/secret"):
            await legacy.subscribe_resource(secret)
        with pytest.raises(MCPError, match="no resource"):
            await legacy.subscribe_resource("https://example.com/anything")
    async with mcp_client(live.url, TOKEN_B) as modern:
        with pytest.raises(MCPError, match="cannot read octo/secret"):
            async with modern.listen(resource_subscriptions=[secret]):
                pass


async def test_resources_read_as_their_tools_show_them(live: Live) -> None:
    async with mcp_client(live.url, TOKEN_A) as client:
        templates = (await client.list_resource_templates()).resource_templates
        issue = await client.read_resource(ISSUE)
    assert {t.uri_template for t in templates} >= {
        "github://{owner}/{repo}/issues/{number}",
        "github://{owner}/{repo}/events",
    }
    assert json.loads(issue.contents[0].text)["item"]["title"] == "First"  # type: ignore[union-attr]


async def test_one_caller_holds_at_most_ten_listen_streams(live: Live) -> None:
    async with mcp_client(live.url, TOKEN_A) as client, AsyncExitStack() as streams:
        for _ in range(LISTENS_PER_CALLER):
            await streams.enter_async_context(client.listen(resource_subscriptions=[ISSUE]))
        metrics = (await live.http.get("/metrics")).text
        assert f"hubbub_mcp_listen_streams {LISTENS_PER_CALLER}.0" in metrics
        with pytest.raises(MCPError, match="At most 10 listen streams"):
            async with client.listen(resource_subscriptions=[ISSUE]):
                pass
        async with mcp_client(live.url, TOKEN_B) as other, other.listen(tools_list_changed=True):
            pass  # another caller is not held back
