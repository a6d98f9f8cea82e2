"""The persistent server loads the MCP SDK on the first /mcp request, not at start-up: a
deployment whose clients never speak MCP does not carry it (about 35 MB and 0.4 s)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from starlette.responses import PlainTextResponse

from mcp_server.lazy import LazyMCP
from mcp_server.server import PATH
from realtime.app import MCP_PATH
from tests.mcp.conftest import data_of, mcp_client
from tests.proxy.conftest import TOKEN_A
from tests.realtime.conftest import Live

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("mcp", "pydantic", "jsonschema", "httpx2")


def test_importing_the_server_loads_no_mcp_sdk() -> None:
    probe = f"import sys, realtime.app\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
    assert MCP_PATH == PATH


async def test_the_first_request_builds_the_server_once(live: Live) -> None:
    lazy = live.hub.event_listeners  # the built server adds its listener here, once
    before = len(lazy)
    async with mcp_client(live.url, TOKEN_A) as first, mcp_client(live.url, TOKEN_A) as second:
        assert data_of(await first.call_tool("get_me", {}))["item"]["login"] == "alice"
        assert data_of(await second.call_tool("get_me", {}))["item"]["login"] == "alice"
    assert len(lazy) == before + 1


class FakeServer:
    """What LazyMCP needs of a server: `running()`."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        if self.fail:
            raise RuntimeError("no")
        yield


async def test_a_failed_start_is_a_clear_503_and_the_next_request_tries_again() -> None:
    builds: list[bool] = []

    def build() -> tuple[Any, Any]:
        fail = not builds  # the first start fails
        builds.append(fail)
        return FakeServer(fail), PlainTextResponse("served")

    lazy = LazyMCP(build)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=lazy), base_url="http://test"
    ) as http:
        failed = await http.get("/mcp")
        served = await asyncio.gather(*(http.get("/mcp") for _ in range(5)))
    await lazy.aclose()
    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "mcp_unavailable"
    assert [answer.text for answer in served] == ["served"] * 5
    assert builds == [True, False]  # one start for the five at once
