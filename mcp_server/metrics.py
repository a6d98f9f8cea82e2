"""The MCP server's counters, on the gateway's registry so `/metrics` shows them too."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge


class MCPMetrics:
    def __init__(self, registry: CollectorRegistry, sessions: Callable[[], int]) -> None:
        self.tool_calls = Counter(
            "hubbub_mcp_tool_calls_total",
            "Tool calls, by tool and outcome (ok, or error: a result with is_error)",
            ["tool", "outcome"],
            registry=registry,
        )
        self.listens = Gauge(
            "hubbub_mcp_listen_streams",
            "subscriptions/listen streams open here",
            registry=registry,
        )
        sessions_open = Gauge(
            "hubbub_mcp_sessions",
            "Session-based (2025-11-25) sessions held by this process",
            registry=registry,
        )
        sessions_open.set_function(sessions)
