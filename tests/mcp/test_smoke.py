from tests.mcp.conftest import data_of, mcp_client
from tests.proxy.conftest import TOKEN_A
from tests.realtime.conftest import Live


async def test_smoke(live: Live) -> None:
    for mode in ("legacy", "auto"):
        async with mcp_client(live.url, TOKEN_A, mode=mode) as client:
            print(client.protocol_version)
            tools = await client.list_tools()
            print([t.name for t in tools.tools])
            result = await client.call_tool("get_me", {})
            print(data_of(result))
            result = await client.call_tool(
                "issue_read", {"owner": "octo", "repo": "hello", "issue_number": 1}
            )
            print(data_of(result))
