"""A session-based client whose stream drops gets what it missed when it reconnects with
`Last-Event-ID`, from the event store on the Store. Spoken at the HTTP level, as a client
library does, so the drop and the resumption are exactly where the test puts them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.fakes.waiting import wait_until_true
from tests.mcp.test_http import INITIALIZE, MCP_HEADERS
from tests.proxy.conftest import TOKEN_A
from tests.realtime.conftest import Live

ISSUE = "github://octo/hello/issues/1"


async def events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Server-sent events as {"id", "data"} (data parsed when present)."""
    event: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line:
            if event:
                yield event
            event = {}
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            event["id"] = value
        elif name == "data" and value:
            event["data"] = json.loads(value)


async def post(http: httpx.AsyncClient, headers: dict[str, str], message: dict[str, Any]) -> Any:
    """A request's answer (the last message of its stream), or None for a notification."""
    async with http.stream("POST", "/mcp", json=message, headers=headers) as response:
        assert response.status_code in (200, 202), await response.aread()
        if response.status_code == 202:
            return None
        if response.headers["content-type"].startswith("application/json"):
            return json.loads(await response.aread())
        answer = None
        async for event in events(response):
            answer = event.get("data", answer)
        return answer


async def test_a_dropped_stream_resumes_without_losing_a_message(live: Live) -> None:
    headers = {**MCP_HEADERS, "authorization": f"Bearer {TOKEN_A}"}
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
        opened = await http.post("/mcp", json=INITIALIZE, headers=headers)
        assert opened.status_code == 200
        headers["mcp-session-id"] = opened.headers["mcp-session-id"]
        headers["mcp-protocol-version"] = "2025-11-25"
        await post(http, headers, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        subscribed = await post(
            http,
            headers,
            {"jsonrpc": "2.0", "id": 2, "method": "resources/subscribe", "params": {"uri": ISSUE}},
        )
        assert "error" not in subscribed, subscribed

        # A change arrives on the standalone stream; then the connection drops.
        get_headers = {**headers, "accept": "text/event-stream"}
        async with http.stream("GET", "/mcp", headers=get_headers) as stream:
            assert stream.status_code == 200
            await live.issue_event(1, title="Renamed once")
            first = await anext(events(stream))
        assert first["data"]["params"]["uri"] == ISSUE
        last_seen = first["id"]

        # While the client is away, the issue changes again.
        await live.issue_event(1, title="Renamed while away")
        store, keys = live.gateway.store, live.gateway.keys
        key = keys.mcp_stream(f"{headers['mcp-session-id']}:_GET_stream")

        async def missed_message_stored() -> bool:
            return len(await store.xrange(key)) >= 2

        await wait_until_true(missed_message_stored, timeout=10)

        # Reconnecting with the last id it saw, the client gets the notification.
        resumed_headers = {**get_headers, "last-event-id": last_seen}
        async with http.stream("GET", "/mcp", headers=resumed_headers) as stream:
            assert stream.status_code == 200
            async for event in events(stream):
                if "data" in event:
                    missed = event
                    break
    assert missed["data"]["method"] == "notifications/resources/updated"
    assert missed["data"]["params"]["uri"] == ISSUE
    assert missed["id"] != last_seen


async def test_a_closed_session_leaves_nothing_in_the_store(live: Live) -> None:
    headers = {**MCP_HEADERS, "authorization": f"Bearer {TOKEN_A}"}
    store, keys = live.gateway.store, live.gateway.keys
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
        opened = await http.post("/mcp", json=INITIALIZE, headers=headers)
        session_id = opened.headers["mcp-session-id"]
        headers["mcp-session-id"] = session_id
        headers["mcp-protocol-version"] = "2025-11-25"
        await post(http, headers, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        listed = await post(http, headers, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert listed["result"]["tools"]
        assert await store.get(keys.mcp_session(session_id)) is not None
        assert await store.xrange(keys.mcp_stream(f"{session_id}:2"))
        closed = await http.delete("/mcp", headers=headers)
    assert closed.status_code == 200

    async def nothing_left() -> bool:
        streams = [await store.xrange(keys.mcp_stream(f"{session_id}:{n}")) for n in "12"]
        record = await store.get(keys.mcp_session(session_id))
        return record is None and streams == [[], []]

    await wait_until_true(nothing_left, timeout=10)
