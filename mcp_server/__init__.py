"""The MCP server: agents work on GitHub through the gateway, and in the live rooms.

`mcp_server.server.HubbubMCP` is the server; `mcp_server.lazy.LazyMCP` serves it from
the first request on. Nothing here imports the SDK: it costs a process about 35 MB and
0.4 s, which a server nobody asks for MCP should not pay.
"""
