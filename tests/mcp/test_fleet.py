"""Two `hubbub serve` processes on one Redis: a session-based MCP session lives in the
process that opened it, and a request that lands on the other one is sent there (Fly's
`fly-replay`) or refused with a 404 the client reconnects on (elsewhere). The stateless
protocol needs neither."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.fakes.waiting import wait_until_true
from tests.mcp.conftest import TIMEOUT, data_of, mcp_client
from tests.mcp.test_http import INITIALIZE, MCP_HEADERS
from tests.mcp.test_subscriptions import ISSUE, Heard
from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import Fleet
from tests.realtime.fleet import Machine


class FlyProxy(httpx2.AsyncBaseTransport):
    """Fly's proxy as far as MCP needs it: requests go to the machines in turn, and an
    answer carrying `fly-replay: instance=<id>` is replaced by the same request sent to
    that machine (marked with `fly-replay-src`, as Fly marks it)."""

    def __init__(self, machines: dict[str, Machine]) -> None:
        self.machines = machines
        self.turns = itertools.cycle(machines)
        self.inner = httpx2.AsyncHTTPTransport()
        self.replayed = 0
        self.served_by: list[str] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        target = next(self.turns)
        response = await self._send(request, target, body)
        replay = response.headers.get("fly-replay", "")
        if replay.startswith("instance="):
            await response.aclose()
            self.replayed += 1
            target = replay.removeprefix("instance=")
            response = await self._send(request, target, body, {"fly-replay-src": "test"})
        self.served_by.append(target)
        return response

    async def _send(
        self, request: httpx2.Request, target: str, body: bytes, extra: dict[str, str] | None = None
    ) -> httpx2.Response:
        url = request.url.copy_with(port=self.machines[target].port)
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"host"]
        forwarded = httpx2.Request(
            request.method, url, headers=headers, content=body, extensions=request.extensions
        )
        for name, value in (extra or {}).items():
            forwarded.headers[name] = value
        return await self.inner.handle_async_request(forwarded)

    async def aclose(self) -> None:
        await self.inner.aclose()


@asynccontextmanager
async def through(proxy: FlyProxy, token: str, mode: str) -> AsyncIterator[Client]:
    any_machine = next(iter(proxy.machines.values()))
    async with httpx2.AsyncClient(
        transport=proxy, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    ) as http:
        transport = streamable_http_client(f"{any_machine.url}/mcp", http_client=http)
        async with Client(transport, mode=mode, cache=None) as client:  # type: ignore[arg-type]
            yield client


async def machines(fleet: Fleet, redis_url: str, **fly: str) -> dict[str, Machine]:
    started = {}
    for name in ("a", "b"):
        environ = {"FLY_MACHINE_ID": f"fly-{name}"} if fly else {}
        started[f"fly-{name}"] = await fleet.machine(name, redis_url, **environ)
    return started


async def test_on_fly_a_session_reaches_its_machine_wherever_requests_land(
    fleet: Fleet, fresh_redis_url: str
) -> None:
    proxy = FlyProxy(await machines(fleet, fresh_redis_url, fly="yes"))
    async with through(proxy, TOKEN_A, "legacy") as client:
        for _ in range(4):
            me = data_of(await client.call_tool("get_me", {}))
            assert me["item"]["login"] == "alice"
    # Requests landed on both machines; those for the session were replayed to its own.
    assert proxy.replayed >= 2
    assert len(set(proxy.served_by)) == 1


async def test_the_stateless_protocol_is_served_by_any_machine(
    fleet: Fleet, fresh_redis_url: str
) -> None:
    proxy = FlyProxy(await machines(fleet, fresh_redis_url, fly="yes"))
    async with through(proxy, TOKEN_A, "auto") as client:
        for _ in range(4):
            assert data_of(await client.call_tool("get_me", {}))["item"]["login"] == "alice"
    assert proxy.replayed == 0
    assert set(proxy.served_by) == {"fly-a", "fly-b"}


async def test_off_fly_another_machine_answers_404_and_a_new_session_works(
    fleet: Fleet, fresh_redis_url: str
) -> None:
    a, b = (await machines(fleet, fresh_redis_url)).values()
    headers: dict[str, Any] = {**MCP_HEADERS, "authorization": f"Bearer {TOKEN_A}"}
    async with httpx.AsyncClient(timeout=10) as http:
        opened = await http.post(f"{a.url}/mcp", json=INITIALIZE, headers=headers)
        session = {
            **headers,
            "mcp-session-id": opened.headers["mcp-session-id"],
            "mcp-protocol-version": "2025-11-25",
        }
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        elsewhere = await http.post(f"{b.url}/mcp", json=listing, headers=session)
        reopened = await http.post(f"{b.url}/mcp", json=INITIALIZE, headers=headers)
    assert elsewhere.status_code == 404
    assert "start a new session" in elsewhere.json()["error"]["message"]
    assert "fly-replay" not in elsewhere.headers
    assert reopened.status_code == 200 and reopened.headers["mcp-session-id"]


async def test_a_change_made_on_one_machine_reaches_a_subscriber_on_the_other(
    fleet: Fleet, fresh_redis_url: str
) -> None:
    fleet.github.add_issue("octo", "hello", title="First", number=1)
    a, b = (await machines(fleet, fresh_redis_url)).values()
    heard = Heard()
    async with (
        mcp_client(a.url, TOKEN_A, mode="legacy", message_handler=heard) as watcher,
        mcp_client(b.url, TOKEN_B) as writer,
    ):
        await watcher.subscribe_resource(ISSUE)
        data_of(
            await writer.call_tool(
                "add_issue_comment",
                {"owner": "octo", "repo": "hello", "issue_number": 1, "body": "From b"},
            )
        )
        await heard.wait_for(ISSUE)
        # And a webhook delivered to b reaches a's subscriber through the event stream.
        heard.uris.clear()
        await fleet.issue_event(b, 1, "Renamed")
        await heard.wait_for(ISSUE)


async def test_an_agent_served_by_both_machines_is_one_participant(
    fleet: Fleet, fresh_redis_url: str
) -> None:
    fleet.github.add_issue("octo", "hello", title="First", number=1)
    fleet.github.repos["octo/hello"].writers.add("bob")
    environ = {"HUBBUB_MCP_TOOLSETS": "all"}
    a = await fleet.machine("a", fresh_redis_url, **environ)
    b = await fleet.machine("b", fresh_redis_url, **environ)
    issue = {"owner": "octo", "repo": "hello", "issue_number": 1}

    async def agents_here(client: Any) -> list[Any]:
        found = data_of(await client.call_tool("who_is_here", {"owner": "octo", "repo": "hello"}))
        return [p for p in found["items"] if p["agent"]]

    async with mcp_client(a.url, TOKEN_B) as on_a, mcp_client(b.url, TOKEN_B) as on_b:
        handle = data_of(await on_a.call_tool("live_join_issue", issue))["item"]["handle"]
        edit = {"handle": handle, "ops": [{"op": "append_to_body", "text": "x"}]}
        for client in (on_b, on_a, on_b):
            data_of(await client.call_tool("live_edit", edit))
            assert len(await agents_here(client)) == 1
        data_of(await on_b.call_tool("live_leave", {"handle": handle}))

        async def gone() -> bool:
            return await agents_here(on_a) == []

        await wait_until_true(gone, timeout=10)
