"""MCP server over the gateway. Filled by the MCP issue; empty until then."""
