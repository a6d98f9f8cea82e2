"""The tools, one module per toolset (`HUBBUB_MCP_TOOLSETS`)."""
