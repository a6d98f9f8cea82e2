"""The server `bench/webhooks.py` measures: the serverless app with the webhook receiver,
and a bare route that reads a body and answers 202, in one process."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.datastructures import Secret
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy import Gateway, GatewayHolder, ProxyEndpoints
from proxy.http_app import EXCEPTION_HANDLERS
from shared.config import Settings
from shared.store import connect
from webhooks import WebhookEndpoints

SECRET = "bench-secret-bench-secret-bench-secret"


def create_app() -> Starlette:
    settings = Settings(github_webhook_secret=Secret(SECRET))
    redis_url = os.environ.get("BENCH_REDIS_URL")
    if redis_url:
        settings = settings.replace(redis_url=Secret(redis_url))
    holder = GatewayHolder(settings, Gateway(settings, connect(settings)))

    async def bare(request: Request) -> Response:
        await request.body()
        return JSONResponse({"accepted": True}, status_code=202)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gc.collect()
        gc.freeze()
        yield
        await holder.aclose()

    routes = [
        Route("/bare", bare, methods=["POST"]),
        *ProxyEndpoints(settings, holder).routes(),
        *WebhookEndpoints(settings, holder).routes(),
    ]
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
