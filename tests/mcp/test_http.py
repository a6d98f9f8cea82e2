"""/mcp on the persistent server over real HTTP: the SDK's client in both protocol eras,
authentication, the metadata document, DNS-rebinding protection, and elicitation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from tests.mcp.conftest import data_of, mcp_client, text_of
from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import Live

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"accept": "application/json, text/event-stream"}


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_both_protocol_eras_serve_the_tools(live: Live, mode: str) -> None:
    async with mcp_client(live.url, TOKEN_A, mode=mode) as client:
        expected = "2025-11-25" if mode == "legacy" else "2026-07-28"
        assert client.protocol_version == expected
        me = data_of(await client.call_tool("get_me", {}))
        issue = data_of(
            await client.call_tool(
                "issue_read", {"owner": "octo", "repo": "hello", "issue_number": 1}
            )
        )
    assert me["item"]["login"] == "alice"
    assert issue["item"]["title"] == "First"


async def test_no_token_or_a_bad_one_is_refused_with_the_metadata_address(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.url) as http:
        missing = await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
        bad = await http.post(
            "/mcp",
            json=INITIALIZE,
            headers={
                **MCP_HEADERS,
                "authorization": "Bearer ghp_notarealtokenNOTAREALTOKEN00000000",
            },
        )
        metadata = await http.get("/.well-known/oauth-protected-resource/mcp")
    for refused in (missing, bad):
        assert refused.status_code == 401
        challenge = refused.headers["www-authenticate"]
        assert "resource_metadata=" in challenge
        assert "/.well-known/oauth-protected-resource/mcp" in challenge
        assert "Traceback" not in refused.text
    assert metadata.status_code == 200
    document = metadata.json()
    assert document["resource"].endswith("/mcp")
    assert document["authorization_servers"]


async def test_a_hubbub_session_token_works_as_well_as_a_github_token(live: Live) -> None:
    token = await live.session_token("bob", TOKEN_B)()
    async with mcp_client(live.url, token) as client:
        me = data_of(await client.call_tool("get_me", {}))
    assert me["item"]["login"] == "bob"


async def test_an_unknown_host_is_refused(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.post(
            "/mcp",
            json=INITIALIZE,
            headers={**MCP_HEADERS, "authorization": f"Bearer {TOKEN_A}", "host": "evil.example"},
        )
    assert response.status_code == 421


async def test_a_session_is_useless_to_another_user(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.url) as http:
        opened = await http.post(
            "/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "authorization": f"Bearer {TOKEN_A}"}
        )
        session = opened.headers["mcp-session-id"]
        stolen = await http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            headers={
                **MCP_HEADERS,
                "authorization": f"Bearer {TOKEN_B}",
                "mcp-session-id": session,
                "mcp-protocol-version": "2025-11-25",
            },
        )
    assert opened.status_code == 200
    assert stolen.status_code == 404


async def test_closing_an_issue_asks_the_user_first(live: Live) -> None:
    asked: list[str] = []
    answer = {"action": "decline"}

    async def elicit(context: ClientRequestContext, params: ElicitRequestParams) -> Any:
        asked.append(params.message)
        if answer["action"] == "accept":
            return ElicitResult(action="accept", content={"confirm": True})
        return ElicitResult(action="decline")

    arguments = {
        "method": "update",
        "owner": "octo",
        "repo": "hello",
        "issue_number": 1,
        "state": "closed",
    }
    async with mcp_client(live.url, TOKEN_B, mode="legacy", elicitation_callback=elicit) as client:
        declined = await client.call_tool("issue_write", arguments)
        assert live.github.issue("octo", "hello", 1)["state"] == "open"
        answer["action"] = "accept"
        accepted = await client.call_tool("issue_write", arguments)
    assert asked == ["Close octo/hello#1 on GitHub?"] * 2
    assert not declined.is_error and "did not confirm" in text_of(declined)
    assert not accepted.is_error, text_of(accepted)
    assert live.github.issue("octo", "hello", 1)["state"] == "closed"


async def test_a_browser_mcp_client_may_carry_its_session_across_origins(
    make_live: Any,
) -> None:
    live = await make_live(allowed_origins=("https://dashboard.example",))
    async with httpx.AsyncClient(base_url=live.url) as http:
        preflight = await http.options(
            "/mcp",
            headers={
                "origin": "https://dashboard.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, mcp-session-id, last-event-id",
            },
        )
        answer = await http.post(
            "/mcp",
            json=INITIALIZE,
            headers={
                **MCP_HEADERS,
                "authorization": f"Bearer {TOKEN_A}",
                "origin": "https://dashboard.example",
            },
        )
    assert preflight.status_code == 200
    assert answer.status_code == 200
    assert "mcp-session-id" in answer.headers["access-control-expose-headers"].lower()


async def test_the_endpoint_answers_with_and_without_a_trailing_slash(live: Live) -> None:
    headers = {**MCP_HEADERS, "authorization": f"Bearer {TOKEN_A}"}
    async with httpx.AsyncClient(base_url=live.url, follow_redirects=True) as http:
        answer = await http.post("/mcp/", json=INITIALIZE, headers=headers)
    assert answer.status_code == 200
    assert answer.headers["mcp-session-id"]


async def test_metrics_count_tool_calls_by_outcome(live: Live) -> None:
    async with mcp_client(live.url, TOKEN_A) as client:
        await client.call_tool("get_me", {})
        await client.call_tool("issue_read", {"owner": "octo", "repo": "hello", "issue_number": 9})
    metrics = (await live.http.get("/metrics")).text
    assert 'hubbub_mcp_tool_calls_total{outcome="ok",tool="get_me"} 1.0' in metrics
    assert 'hubbub_mcp_tool_calls_total{outcome="error",tool="issue_read"} 1.0' in metrics
