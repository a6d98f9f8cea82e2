"""Issues, pull requests and a repository's activity as MCP resources, for agents that
watch rather than poll: subscribe to one and a change (a webhook, a saved live edit,
another agent's write) arrives as `resources/updated` (subscriptions.py)."""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer

from mcp_server.github import ToolFailure
from mcp_server.services import Services
from mcp_server.shaping import issue_view, pull_view, result
from shared.errors import HubbubError

_JSON = "application/json"


def register_resources(server: MCPServer, s: Services) -> None:
    async def read(path: str, view: Any) -> str:
        try:
            identity = await s.callers.identity()
            answer = await s.github.get(identity, path)
        except (ToolFailure, HubbubError) as error:
            # A resource read has no error result: the message is the resource's text.
            return json.dumps({"error": str(error)})
        return capped(view(answer.data))

    def capped(value: Any) -> str:
        """Within the size cap and still valid JSON, as a tool's result is."""
        text = result({"item": value}, cap=s.cap).content[0].text  # type: ignore[union-attr]
        return str(text)

    @server.resource(
        "github://{owner}/{repo}/issues/{number}",
        name="issue",
        description="One issue, as issue_read shows it",
        mime_type=_JSON,
    )
    async def issue(owner: str, repo: str, number: int) -> str:
        return await read(f"/repos/{owner}/{repo}/issues/{int(number)}", issue_view)

    @server.resource(
        "github://{owner}/{repo}/pulls/{number}",
        name="pull_request",
        description="One pull request, as pull_request_read shows it",
        mime_type=_JSON,
    )
    async def pull_request(owner: str, repo: str, number: int) -> str:
        return await read(f"/repos/{owner}/{repo}/pulls/{int(number)}", pull_view)

    @server.resource(
        "github://{owner}/{repo}/events",
        name="repository_activity",
        description="A repository's last 20 events, as Hubbub heard them from webhooks",
        mime_type=_JSON,
    )
    async def activity(owner: str, repo: str) -> str:
        identity = await s.callers.identity()
        access = await s.gateway().access.lookup(identity, f"{owner}/{repo}")
        if not access.can_read:
            return json.dumps({"error": f"{owner}/{repo} does not exist, or you cannot see it"})
        envelopes = await s.events.recent(access.id, 20)
        return capped([envelope.to_dict() for envelope in envelopes])
