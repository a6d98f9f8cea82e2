"""`hubbub mcp`: the same MCP server over stdio, for an agent on this computer.

There is no HTTP request to bring a token, so the one credential comes from the
environment: `HUBBUB_TOKEN` (a Hubbub session token) or else `GITHUB_TOKEN`. Calls go
through a gateway in this process, on the configured store: with `REDIS_URL` the agent
shares the fleet's cache and budgets; without, it has a cache of its own. The live rooms
are on the persistent server; agents that want them connect to its /mcp.
"""

from __future__ import annotations

import os

from mcp_server.server import HubbubMCP
from proxy.gateway import Gateway
from shared.config import Settings
from shared.store import connect


def credential(settings: Settings) -> str | None:
    token = os.environ.get("HUBBUB_TOKEN") or None
    if token is None and settings.github_token is not None:
        token = str(settings.github_token)
    return token


async def serve_stdio(settings: Settings, token: str) -> None:
    gateway = Gateway(settings, connect(settings))
    try:
        await gateway.start()
        # Checked before the first message: a refused token is a clear exit, not a
        # failure on the agent's first call.
        await gateway.callers.resolve_token(token, client_ip="stdio")
        mcp = HubbubMCP(settings, lambda: gateway, fixed_token=token)
        await mcp.bus.start()
        try:
            await mcp.server.run_stdio_async()
        finally:
            await mcp.bus.stop()
    finally:
        await gateway.aclose()
        await gateway.store.aclose()
