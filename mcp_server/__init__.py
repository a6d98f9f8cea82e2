"""The MCP server: agents work on GitHub through the gateway, and in the live rooms."""

from mcp_server.server import HubbubMCP

__all__ = ["HubbubMCP"]
