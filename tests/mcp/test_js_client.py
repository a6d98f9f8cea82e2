"""The official MCP TypeScript SDK (`@modelcontextprotocol/sdk` in tests/js, run with node:
tests/js/mcp_client.mjs) against the real server's /mcp over HTTP: with a GitHub token it
connects in whatever protocol version it speaks, lists the tools and calls `get_me` and
`issue_read`; without a token, or with a bad one, it is refused with 401.

This proves /mcp works for JavaScript agents, not only for the Python SDK. Without node or
the SDK in tests/js/node_modules the tests skip; under CI (`CI` set) they fail.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_asyncio

from tests.proxy.conftest import TOKEN_A
from tests.realtime.conftest import JsClient, Live, RunJs, node_binary
from tests.realtime.conftest import run_js as run_js  # the fixture

SDK = "@modelcontextprotocol/sdk"


@pytest_asyncio.fixture
async def mcp_js(run_js: RunJs) -> RunJs:
    """`await mcp_js(config)`: tests/js/mcp_client.mjs running with `config`."""
    node_binary(SDK)  # skips, or fails under CI, when the SDK is not installed

    async def run(config: dict[str, Any]) -> JsClient:
        return await run_js(config, "mcp_client.mjs")

    return run


def data_of(result: dict[str, Any]) -> Any:
    """A tool result's one text block, as JSON."""
    assert result["isError"] is False, result
    [block] = result["content"]
    assert block["type"] == "text", block
    return json.loads(block["text"])


async def test_the_js_sdk_connects_lists_the_tools_and_calls_them(
    mcp_js: RunJs, live: Live
) -> None:
    calls = [
        {"name": "get_me", "arguments": {}},
        {"name": "issue_read", "arguments": {"owner": "octo", "repo": "hello", "issue_number": 1}},
    ]
    js = await mcp_js({"url": live.url, "token": TOKEN_A, "calls": calls})

    connected = await js.expect("connected")
    print(f"the JS SDK speaks MCP {connected['protocol_version']}")
    assert connected["protocol_version"]
    assert connected["server"]["name"] == "hubbub"

    tools = await js.expect("tools")
    assert {"get_me", "issue_read"} <= set(tools), tools

    me = await js.expect("result")
    assert me["name"] == "get_me"
    assert data_of(me)["item"]["login"] == "alice"

    issue = await js.expect("result")
    assert issue["name"] == "issue_read"
    item = data_of(issue)["item"]
    assert item["number"] == 1
    assert item["title"] == "First"

    assert await js.expect("done") is True
    assert await js.exit_code() == 0


@pytest.mark.parametrize(
    "token", [None, "ghp_nobodyNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN"], ids=["no-token", "bad-token"]
)
async def test_the_js_sdk_without_a_valid_token_is_refused_with_401(
    mcp_js: RunJs, live: Live, token: str | None
) -> None:
    config: dict[str, Any] = {"url": live.url, "calls": [{"name": "get_me"}]}
    if token is not None:
        config["token"] = token
    js = await mcp_js(config)

    refusal = await js.expect("connect_error")
    # The SDK (with no OAuth provider to retry through) surfaces the status as the code.
    assert refusal["code"] == 401, refusal
    assert "invalid_token" in refusal["message"], refusal
    assert refusal["status"] == 401
    # What an OAuth-capable client would follow: the protected-resource metadata.
    assert refusal["www_authenticate"].startswith("Bearer"), refusal
    assert "oauth-protected-resource/mcp" in refusal["www_authenticate"], refusal
    assert await js.exit_code() == 0
