"""Checks every request's path and query, and that an anonymous caller only reads, before
anything else happens; never calls GitHub for a request it rejects. In-process callers
(MCP, realtime) pass through it too."""

from __future__ import annotations

from proxy.messages import GatewayRequest, GatewayResponse, Handler
from proxy.target import parse_target
from shared.errors import MethodNotAllowed, NotAuthenticated

_METHODS = frozenset({"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"})


class Guard:
    def __init__(self, inner: Handler) -> None:
        self.inner = inner

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        if request.method not in _METHODS:
            raise MethodNotAllowed(f"{request.method} is not supported by the GitHub API")
        parse_target(request.path, request.query)
        if request.identity.is_anonymous and not request.is_read:
            # Even when the server's own token would be used: nobody writes as the server.
            raise NotAuthenticated("sign in to change anything", code="authentication_required")
        return await self.inner(request)
