"""Who an MCP request comes from: a Hubbub session token or a GitHub token, checked by the
identity layer exactly as the gateway checks a dashboard's.

The SDK's bearer middleware calls `verify_token` on every HTTP request; a refused token
gets 401 with the protected-resource metadata URL. The caller's `Identity` is looked up
again from the same token inside each tool (a dictionary hit: the resolver memoises it),
because an `AccessToken` must not carry the credential anywhere but here.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from starlette.types import ASGIApp, Receive, Scope, Send

from proxy.gateway import Gateway
from proxy.http_request import client_ip_from
from shared.config import Settings
from shared.errors import NotAuthenticated
from shared.identity import Identity

# The client address of the HTTP request being served: unchecked tokens spend its budget.
_client_ip = contextvars.ContextVar("mcp_client_ip", default="unknown")


class CallerVerifier:
    """The SDK's `TokenVerifier`, over the identity layer."""

    def __init__(self, gateway: Callable[[], Gateway]) -> None:
        self._gateway = gateway

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            identity = await self._gateway().callers.resolve_token(
                token, client_ip=_client_ip.get()
            )
        except NotAuthenticated:
            return None
        # (client id, issuer, subject) binds a legacy session to its user: the same user
        # may come back with a refreshed token and keep the session; nobody else can.
        return AccessToken(
            token=token,
            client_id="hubbub",
            scopes=[],
            expires_at=int(identity.expires_at) if identity.expires_at else None,
            # A token of no user (an App installation's) is its own principal.
            subject=str(identity.user_id) if identity.user_id is not None else identity.token_hash,
            claims={"iss": "https://github.com", "login": identity.login},
        )


class Callers:
    """The identity of the tool call being served: the HTTP request's bearer token, or on
    stdio (and in-process tests) the one credential the server was started with."""

    def __init__(self, gateway: Callable[[], Gateway], fixed_token: str | None = None) -> None:
        self._gateway = gateway
        self._fixed = fixed_token

    async def identity(self) -> Identity:
        access = get_access_token()
        token = access.token if access is not None else self._fixed
        if token is None:
            raise NotAuthenticated("no credential: send Authorization: Bearer <token>")
        return await self._gateway().callers.resolve_token(token, client_ip=_client_ip.get())


class ClientAddress:
    """Plain ASGI: records the client's address for the token check below it."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            forwarded = ""
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    forwarded = value.decode("latin-1")
            _client_ip.set(client_ip_from(scope.get("client"), forwarded, self.settings))
        await self.app(scope, receive, send)
