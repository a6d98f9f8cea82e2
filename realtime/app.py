"""The persistent server's ASGI app: every serverless route plus health, readiness, metrics.

`hubbub dev` and `hubbub serve` run this app. Socket.IO rooms and the MCP endpoint join
it in later issues; start-up and shutdown live in the Starlette lifespan so they can.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy import Gateway, GatewayHolder, ProxyEndpoints
from proxy.http_app import EXCEPTION_HANDLERS
from shared.config import Settings
from shared.errors import StoreUnavailable

log = logging.getLogger("hubbub.server")


def create_app(settings: Settings, *, gateway: Gateway | None = None) -> Starlette:
    holder = GatewayHolder(settings, gateway)
    owns_gateway = gateway is None

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await holder().store.ping()
        except StoreUnavailable:
            return JSONResponse({"status": "store unreachable"}, status_code=503)
        return JSONResponse({"status": "ready", "store": settings.store_backend})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(holder().metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        holder()
        log.info(
            "serving GitHub at %s with the %s store",
            settings.github_api_url,
            settings.store_backend,
        )
        if settings.store_backend == "embedded":
            log.info("embedded store: state lives in this process only (set REDIS_URL to share)")
        # Start-up allocations live for the process; keep the cyclic GC from walking them.
        gc.collect()
        gc.freeze()
        yield
        if owns_gateway:
            await holder.aclose()

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        *ProxyEndpoints(settings, holder).routes(),
    ]
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)


def create_app_from_env() -> Starlette:
    """uvicorn's factory (`--factory`): settings from the environment and `.env`."""
    return create_app(Settings.from_env())
