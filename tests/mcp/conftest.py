"""MCP clients for the tests: the SDK's own `Client`, over real HTTP against the persistent
server (uvicorn on a loopback port), in either protocol era."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

# The persistent server, its fake GitHub and fleets of `hubbub serve`, as the realtime
# tests run them.
from tests.realtime.conftest import fleet, live, make_live  # noqa: F401

TIMEOUT = httpx2.Timeout(30, read=60)


@asynccontextmanager
async def mcp_client(
    url: str, token: str | None, *, mode: str = "auto", **options: Any
) -> AsyncIterator[Client]:
    """`url` is the server's origin; `mode` "legacy" speaks the session-based 2025-11-25
    protocol, "auto" the stateless 2026-07-28 one (this server answers `server/discover`)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=TIMEOUT) as http:
        transport = streamable_http_client(f"{url}/mcp", http_client=http)
        async with Client(transport, mode=mode, cache=None, **options) as client:  # type: ignore[arg-type]
            yield client


def text_of(result: CallToolResult) -> str:
    assert len(result.content) == 1
    return result.content[0].text  # type: ignore[union-attr]


def data_of(result: CallToolResult) -> Any:
    assert not result.is_error, text_of(result)
    return json.loads(text_of(result))
