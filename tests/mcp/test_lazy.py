"""The persistent server loads the MCP SDK on the first /mcp request, not at start-up: a
deployment whose clients never speak MCP does not carry it (about 35 MB and 0.4 s)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
