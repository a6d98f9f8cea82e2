"""`GET /user` through the gateway: how the identity layer learns whom a GitHub token is for.

Through the gateway rather than beside it, so the check is cached per token, revalidated
for free and shares the token's budgets like any other read.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from proxy.messages import GatewayRequest
from shared.errors import UpstreamUnavailable
from shared.identity import GitHubUser, Identity

if TYPE_CHECKING:
    from proxy.gateway import Gateway


class GitHubUsers:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, identity: Identity) -> GitHubUser | None:
        answer = await self.gateway(
            GatewayRequest(method="GET", path="/user", query="", identity=identity)
        )
        if answer.status == 401:
            return None
        if answer.status == 403:
            return GitHubUser(None, None)  # a token, but not a user's (an installation's)
        if answer.status != 200:
            raise UpstreamUnavailable(
                f"GitHub answered {answer.status} when asked whose token this is",
                status=503,
                retry_after_s=5,
            )
        try:
            user = json.loads(answer.body)
        except ValueError:
            user = None
        if not isinstance(user, dict) or not isinstance(user.get("id"), int):
            raise UpstreamUnavailable("GitHub's /user answer had no user id", status=502)
        login = user.get("login")
        return GitHubUser(user["id"], login if isinstance(login, str) else None)
