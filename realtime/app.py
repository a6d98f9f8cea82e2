"""The persistent server's ASGI app: Socket.IO at /socket.io/ (rooms, presence, live
events), every serverless route, health, readiness and metrics, and the event consumer
that backs up webhook processing for the whole fleet.

`hubbub dev` and `hubbub serve` run this app. Start-up and shutdown live in the Starlette
lifespan (Socket.IO's wrapper passes it through), so the MCP endpoint can join it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from mcp_server.lazy import LazyMCP
from proxy import AuthEndpoints, Gateway, GatewayHolder, ProxyEndpoints
from proxy.cors import cors_middleware
from proxy.hot_path import hot_path_middleware
from proxy.http_app import EXCEPTION_HANDLERS
from realtime.agents import AgentRooms
from realtime.connections import Connections
from realtime.demo_page import demo_routes
from realtime.drafts.events import DraftEvents
from realtime.drain import running_hubs
from realtime.hub import Hub, as_asgi
from realtime.projects import Projects
from shared.config import Settings
from shared.errors import StoreUnavailable
from shared.events import EventConsumer
from shared.store import SubscribingStore
from webhooks import Processor, WebhookEndpoints

if TYPE_CHECKING:
    from mcp_server.server import HubbubMCP

log = logging.getLogger("hubbub.server")

MCP_PATH = "/mcp"  # mcp_server.server.PATH, without importing the SDK to say it


# The consumer group that applies every stored event's invalidation once across the fleet.
BACKSTOP_GROUP = "invalidation"
_STOP_TIMEOUT_S = 5.0


def create_app(settings: Settings, *, gateway: Gateway | None = None) -> ASGIApp:
    holder = GatewayHolder(settings, gateway)
    owns_gateway = gateway is None
    webhooks = WebhookEndpoints(settings, holder)
    hub = Hub(settings, holder)
    Connections(hub)
    projects = Projects(hub)
    DraftEvents(hub, projects)
    agents = AgentRooms(hub, projects)

    def build_mcp() -> tuple[HubbubMCP, ASGIApp]:
        from mcp_server.server import HubbubMCP

        server = HubbubMCP(settings, holder, live_rooms=agents)
        app = server.http_app(hub.machine_id, os.environ.get("FLY_MACHINE_ID", ""))
        hub.event_listeners.append(server.on_event)
        return server, app

    mcp = LazyMCP(build_mcp)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if hub.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        try:
            await holder().store.ping()
        except StoreUnavailable:
            return JSONResponse({"status": "store unreachable"}, status_code=503)
        if not hub.ready:
            return JSONResponse({"status": "event stream listener down"}, status_code=503)
        return JSONResponse({"status": "ready", "store": settings.store_backend})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(holder().metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await holder().start()
        log.info(
            "serving GitHub at %s with the %s store",
            settings.github_api_url,
            settings.store_backend,
        )
        if settings.store_backend == "embedded":
            log.info("embedded store: state lives in this process only (set REDIS_URL to share)")
        consumer = await _start_backstop(holder(), webhooks)
        await hub.start()
        running_hubs.add(hub)
        await agents.start()
        # Start-up allocations live for the process; keep the cyclic GC from walking them.
        gc.collect()
        gc.freeze()
        yield
        running_hubs.discard(hub)
        await mcp.aclose()
        await agents.stop()
        await hub.stop()
        if consumer is not None:
            await _stop(*consumer)
        if owns_gateway:
            await holder.aclose()

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        *ProxyEndpoints(settings, holder).routes(),
        *AuthEndpoints(settings, holder).routes(),
        *webhooks.routes(),
        # The MCP endpoint (both protocol eras) and its protected-resource metadata.
        Route(MCP_PATH, mcp),
        Route(f"/.well-known/oauth-protected-resource{MCP_PATH}", mcp),
        *demo_routes(settings),
    ]
    app = Starlette(
        routes=routes,
        middleware=[*cors_middleware(settings), *hot_path_middleware(settings, holder)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.state.mcp = mcp
    return as_asgi(hub, app)


async def _start_backstop(
    gateway: Gateway, webhooks: WebhookEndpoints
) -> tuple[EventConsumer, asyncio.Task[None]] | None:
    store = gateway.store
    if not isinstance(store, SubscribingStore):
        log.warning("the REST store cannot block on streams: no event consumer runs here")
        return None
    processor = Processor(gateway.invalidator, webhooks.bus(gateway))
    consumer = EventConsumer(
        store,
        webhooks.keys,
        processor,
        group=BACKSTOP_GROUP,
        name=f"{socket.gethostname()}-{os.getpid()}",
        claim_idle_ms=webhooks.settings.event_claim_idle_ms,
        max_attempts=webhooks.settings.event_max_attempts,
    )
    try:
        await consumer.start()
    except StoreUnavailable:
        log.warning("store unreachable at start-up: the event consumer will join when it is back")
    return consumer, asyncio.create_task(consumer.run(), name="event-consumer")


async def _stop(consumer: EventConsumer, task: asyncio.Task[None]) -> None:
    consumer.stop()
    try:
        async with asyncio.timeout(_STOP_TIMEOUT_S):
            await task
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app_from_env() -> ASGIApp:
    """uvicorn's factory (`--factory`): settings from the environment and `.env`."""
    return create_app(Settings.from_env())
