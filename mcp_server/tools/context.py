"""Who the agent is, and what its budgets look like: `get_me`, `get_rate_limit_status`."""

import math
import time

from mcp.types import CallToolResult

from mcp_server.services import Services
from mcp_server.shaping import result, user_view
from mcp_server.toolsets import ToolDef, guarded

# GitHub's budgets the gateway records per token (from x-ratelimit-* on every answer).
_RESOURCES = ("core", "search", "code_search", "graphql")


def tools(s: Services) -> list[ToolDef]:
    @guarded
    async def get_me() -> CallToolResult:
        """The GitHub user this agent acts as. Call it first: every other tool acts with
        this user's permissions."""
        identity = await s.callers.identity()
        answer = await s.github.get(identity, "/user", subject="your user")
        return result({"item": user_view(answer.data)}, cap=s.cap, notes=[answer.note])

    @guarded
    async def get_rate_limit_status() -> CallToolResult:
        """What Hubbub knows of this agent's budgets, without spending any: Hubbub's own
        per-user limit, and GitHub's per-token limits as GitHub last reported them."""
        identity = await s.callers.identity()
        gateway = s.gateway()
        keys, settings = gateway.keys, s.settings
        commands = [("GET", keys.caller_limit("rest", identity.limit_key))]
        commands += [("HGETALL", keys.token_budget(identity.token_hash, r)) for r in _RESOURCES]
        commands += [("PTTL", keys.token_penalty(identity.token_hash))]
        replies = await gateway.store.pipeline(commands)
        now_us = time.time() * 1_000_000
        window_us = settings.caller_window_s * 1_000_000
        limit = settings.caller_limit
        hubbub: dict[str, object] = {"limit": limit, "window_s": settings.caller_window_s}
        if limit:
            tat = float(replies[0] or 0)
            emission = window_us / limit
            used = max(0.0, tat - now_us)
            hubbub["remaining"] = max(0, min(limit, math.floor((window_us - used) / emission)))
            hubbub["full_again_in_s"] = math.ceil(used / 1_000_000)
        github: dict[str, object] = {}
        for resource, reply in zip(_RESOURCES, replies[1:-1], strict=True):
            budget = dict(zip(reply[::2], reply[1::2], strict=True)) if reply else {}
            if budget:
                reset = int(budget.get("reset") or 0)
                github[resource] = {
                    "limit": int(budget.get("limit") or 0),
                    "remaining": int(budget.get("remaining") or 0),
                    "resets_in_s": max(0, reset - int(time.time())),
                }
        penalty_ms = int(replies[-1] or -2)
        payload: dict[str, object] = {"hubbub": hubbub, "github": github}
        notes = []
        if not github:
            notes.append("GitHub has not reported a budget for this token yet (no call made).")
        if penalty_ms > 0:
            payload["github_paused_for_s"] = math.ceil(penalty_ms / 1000)
            notes.append("GitHub asked this token to slow down: calls wait until the pause ends.")
        return result(payload, cap=s.cap, notes=notes)

    return [
        ToolDef(get_me, "context", "Who am I", read_only=True),
        ToolDef(get_rate_limit_status, "context", "Rate-limit status", read_only=True),
    ]
