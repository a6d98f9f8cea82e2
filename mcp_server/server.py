"""Hubbub's MCP server: the SDK's `MCPServer` with Hubbub's tools, resources, identity,
subscriptions and session placement, served over HTTP at /mcp (both protocol eras) and
over stdio (`hubbub mcp`)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

from mcp.server import MCPServer
from mcp.server.auth.settings import AuthSettings
from mcp.server.subscriptions import ResourceUpdated
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import SubscribeRequestParams, UnsubscribeRequestParams
from starlette.types import ASGIApp

from mcp_server.auth import Callers, CallerVerifier, ClientAddress
from mcp_server.github import GitHub
from mcp_server.live import LiveRooms
from mcp_server.metrics import MCPMetrics
from mcp_server.resources import register_resources
from mcp_server.services import Services
from mcp_server.sessions import Placement, RecordingSessionManager, SessionRouter
from mcp_server.subscriptions import (
    LegacySubscriptions,
    ListenGate,
    StoreSubscriptionBus,
    uris_for,
)
from mcp_server.tools import context, issues, live, pull_requests, repos, search
from mcp_server.toolsets import ToolDef, chosen, register
from proxy.gateway import Gateway
from shared.config import Settings
from shared.events import Envelope

log = logging.getLogger("hubbub.mcp")

PATH = "/mcp"
INSTRUCTIONS = """\
Hubbub serves GitHub's REST API through a shared cache: reads are cheap and fresh, and a \
change made by anyone reaches you as a resource update. Call get_me first: every tool acts \
as that user. Lists are short by default; use fields to leave out what you do not need, and \
page for more. Long texts come with the offset to read on from. Errors say what to do next. \
To edit an issue together with people, join it with live_join_issue, change the shared \
draft with live_edit, and save it with live_save."""


def all_tools(services: Services) -> list[ToolDef]:
    return [
        *context.tools(services),
        *repos.tools(services),
        *issues.tools(services),
        *pull_requests.tools(services),
        *search.tools(services),
        *live.tools(services),
    ]


class HubbubMCP:
    def __init__(
        self,
        settings: Settings,
        gateway: Callable[[], Gateway],
        *,
        live_rooms: LiveRooms | None = None,
        fixed_token: str | None = None,
    ) -> None:
        """`fixed_token` is stdio's (and in-process tests') one credential; over HTTP every
        request brings its own and `fixed_token` is None."""
        self.settings = settings
        self.gateway = gateway
        self.bus = StoreSubscriptionBus(lambda: gateway().store, lambda: gateway().keys)
        self.services = Services(
            settings, gateway, GitHub(gateway), Callers(gateway, fixed_token), self.bus, live_rooms
        )
        over_http = fixed_token is None
        self.server = MCPServer(
            name="hubbub",
            title="Hubbub",
            version=importlib.metadata.version("hubbub"),
            instructions=INSTRUCTIONS,
            token_verifier=CallerVerifier(gateway) if over_http else None,
            auth=(
                AuthSettings(
                    issuer_url=f"{settings.github_oauth_url.rstrip('/')}/login/oauth",  # type: ignore[arg-type]
                    resource_server_url=self.resource_url,  # type: ignore[arg-type]
                    required_scopes=[],
                    # The tokens are GitHub's or Hubbub's own sessions, neither issued for
                    # one resource: the verifier checks them with the identity layer.
                    validate_token_resource=False,
                )
                if over_http
                else None
            ),
            subscriptions=self.bus,
            middleware=[ListenGate(self._can_read, self._caller_key, self._listening)],
        )
        self.tools = chosen(all_tools(self.services), settings)
        self.metrics: MCPMetrics | None = None  # on the gateway's registry, at start
        register(self.server, self.tools, self._count)
        register_resources(self.server, self.services)
        legacy = LegacySubscriptions(self.bus, self._can_read)
        lowlevel = self.server._lowlevel_server
        lowlevel.add_request_handler(
            "resources/subscribe", SubscribeRequestParams, legacy.subscribe
        )
        lowlevel.add_request_handler(
            "resources/unsubscribe", UnsubscribeRequestParams, legacy.unsubscribe
        )

    async def _caller_key(self) -> str:
        return (await self.services.callers.identity()).partition

    def _listening(self, change: int) -> None:
        if self.metrics is not None:
            self.metrics.listens.inc(change)

    def _count(self, tool: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.tool_calls.labels(tool, outcome).inc()

    @property
    def resource_url(self) -> str:
        return (self.settings.public_url or "http://localhost:8000").rstrip("/") + PATH

    async def _can_read(self, repo: str) -> bool:
        identity = await self.services.callers.identity()
        return await self.gateway().access.can_read(identity, repo)

    def on_event(self, envelope: Envelope) -> None:
        """An event from the stream (every machine reads it whole): this machine's
        subscribers hear of the resources it changed."""
        for uri in uris_for(envelope):
            self.bus.deliver(ResourceUpdated(uri=uri))

    def http_app(self, machine: str, fly_machine: str = "") -> ASGIApp:
        """The endpoint and its protected-resource metadata document, for the host app to
        route `/mcp` and `/.well-known/oauth-protected-resource/mcp` to."""
        app = self.server.streamable_http_app(
            streamable_http_path=PATH,
            retry_interval=1000,
            session_idle_timeout=float(self.settings.mcp_session_idle_s),
            transport_security=self._transport_security(),
        )
        gateway = self.gateway()
        self.placement = Placement(
            gateway.store, gateway.keys, machine, fly_machine, self.settings.mcp_session_idle_s
        )
        RecordingSessionManager.adopt(self.server.session_manager, self.placement)
        return ClientAddress(SessionRouter(app, self.placement), self.settings)

    def _transport_security(self) -> TransportSecuritySettings:
        """The Host and Origin headers /mcp answers (DNS-rebinding protection): loopback,
        the public URL, and HUBBUB_MCP_ALLOWED_HOSTS."""
        hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost"]
        origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
        if self.settings.public_url:
            public = urlsplit(self.settings.public_url)
            hosts += [public.netloc, f"{public.hostname}:*"]
            origins.append(f"{public.scheme}://{public.netloc}")
        for host in self.settings.mcp_allowed_hosts:
            hosts += [host, f"{host}:*"]
        origins += list(self.settings.allowed_origins)
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The host app's lifespan enters this: the SDK's session manager, and the change
        channel."""
        placement = getattr(self, "placement", None)
        if self.metrics is None:
            try:
                self.metrics = MCPMetrics(
                    self.gateway().metrics.registry,
                    sessions=lambda: len(placement.local) if placement is not None else 0,
                )
            except ValueError:  # an earlier start in this process registered them
                log.warning("MCP metrics already registered: this start is not counted")
        await self.bus.start()
        renewing = asyncio.create_task(self._renew_sessions(), name="mcp-sessions")
        try:
            async with self.server.session_manager.run():
                yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await self.bus.stop()

    async def _renew_sessions(self) -> None:
        placement = getattr(self, "placement", None)
        if placement is None:
            return
        while True:
            await asyncio.sleep(self.settings.mcp_session_idle_s / 3)
            try:
                await placement.renew_all()
            except Exception:  # the loop must outlive one bad round
                log.exception("renewing session records failed")
