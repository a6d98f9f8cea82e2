"""Which tools an agent sees: toolsets chosen by configuration, minus every write tool in
read-only mode. Tool definitions cost an agent context, so the default set is small.

Each tool is a plain async function; `guarded` turns the failures a model can act on
(`ToolFailure`, a refused credential) into error results instead of protocol errors, which
a model never sees.
"""

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp.server import MCPServer
from mcp.types import CallToolResult, ToolAnnotations

from mcp_server.github import ToolFailure
from mcp_server.shaping import failure
from shared.config import MCP_TOOLSETS, Settings
from shared.errors import HubbubError, NotAuthenticated


@dataclass(frozen=True)
class ToolDef:
    fn: Callable[..., Awaitable[CallToolResult]]
    toolset: str
    title: str
    read_only: bool
    destructive: bool = False
    idempotent: bool = False

    @property
    def name(self) -> str:
        return self.fn.__name__


def chosen(defs: list[ToolDef], settings: Settings) -> list[ToolDef]:
    sets = set(MCP_TOOLSETS) if "all" in settings.mcp_toolsets else set(settings.mcp_toolsets)
    order = {name: index for index, name in enumerate(MCP_TOOLSETS)}
    picked = [
        tool
        for tool in defs
        if tool.toolset in sets and (tool.read_only or not settings.mcp_read_only)
    ]
    # A deterministic order: clients cache the list, and a stable prefix helps them.
    return sorted(picked, key=lambda tool: (order[tool.toolset], tool.name))


def register(server: MCPServer, defs: list[ToolDef], count: Callable[[str, str], None]) -> None:
    """Add the tools; `count(tool, outcome)` hears of every call's outcome."""
    for tool in defs:
        server.add_tool(
            _counted(tool.fn, tool.name, count),
            title=tool.title,
            annotations=ToolAnnotations(
                title=tool.title,
                read_only_hint=tool.read_only,
                destructive_hint=tool.destructive if not tool.read_only else None,
                idempotent_hint=tool.idempotent if not tool.read_only else None,
                open_world_hint=True,
            ),
            structured_output=False,
        )


def _counted(
    fn: Callable[..., Awaitable[CallToolResult]], name: str, count: Callable[[str, str], None]
) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> CallToolResult:
        result = await fn(*args, **kwargs)
        count(name, "error" if result.is_error else "ok")
        return result

    return call


def guarded(fn: Callable[..., Awaitable[CallToolResult]]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> CallToolResult:
        try:
            return await fn(*args, **kwargs)
        except ToolFailure as error:
            return failure(str(error))
        except NotAuthenticated as error:
            return failure(f"Not signed in: {error}.")
        except HubbubError as error:
            return failure(f"{error} ({error.code}); retry shortly.")

    return call
