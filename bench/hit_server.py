"""The server `bench/proxy.py` measures: the gateway and a bare route, same bytes, one process.

`/bare` returns from memory exactly the body a cache hit returns; `/api/github/...` is the
whole gateway (guard, caller limit, cache lookup, shaping) answering a fresh hit.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy import Gateway, ProxyEndpoints
from proxy.hot_path import hot_path_middleware
from proxy.http_app import EXCEPTION_HANDLERS
from shared.config import Settings
from shared.store import connect
from tests.fakes.github import FakeGitHub

TOKEN = "ghp_benchBENCHbenchBENCHbenchBENCHbench12"
RESOURCE = "/api/github/repos/octo/hello/issues/1"


def create_app() -> Starlette:
    github = FakeGitHub(public_origin="https://api.github.com")
    github.add_user(TOKEN, "bench")
    github.add_repo("octo", "hello")
    # A body of about 4 KB, like the perf anchors' issue.
    github.add_issue("octo", "hello", title="A 4 KB issue", body="x" * 2600, number=1)
    redis_url = os.environ.get("BENCH_REDIS_URL")
    settings = Settings(
        github_api_url="https://api.github.com",
        cache_fresh_s=3600,
        caller_limit=1_000_000_000,
        redis_url=None,
        l1_ttl_s=int(os.environ.get("BENCH_L1_TTL", "1")),
        direct_write=os.environ.get("BENCH_DIRECT_WRITE", "1") == "1",
    )
    if redis_url:
        from starlette.datastructures import Secret

        settings = settings.replace(redis_url=Secret(redis_url))
    gateway = Gateway(settings, connect(settings), transport=httpx.ASGITransport(app=github.app))
    body: dict[str, bytes] = {}
    headers: list[tuple[bytes, bytes]] = []

    async def bare(request: Request) -> Response:
        return Response(body["hit"], media_type="application/json; charset=utf-8")

    async def bare_headers(request: Request) -> Response:
        # The same bytes with the same header lines as the hit: what the server and
        # uvicorn cost for such a response, apart from the gateway.
        response = Response(body["hit"])
        response.raw_headers.extend(headers)
        return response

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        # Warm the cache through the gateway and keep the exact bytes a hit returns.
        app_client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        )
        warm = await app_client.get(RESOURCE, headers={"Authorization": f"token {TOKEN}"})
        hit = await app_client.get(RESOURCE, headers={"Authorization": f"token {TOKEN}"})
        assert warm.status_code == 200 and hit.headers["x-cache"] == "HIT", hit.headers
        body["hit"] = hit.content
        skip = {b"content-length", b"date", b"server"}
        headers.extend(
            (k.encode(), v.encode()) for k, v in hit.headers.multi_items() if k.encode() not in skip
        )
        await app_client.aclose()
        gc.collect()
        gc.freeze()
        yield
        await gateway.aclose()

    routes = [
        Route("/bare", bare),
        Route("/bare-headers", bare_headers),
        *ProxyEndpoints(settings, lambda: gateway).routes(),
    ]
    return Starlette(
        routes=routes,
        # As the served apps compose it: hot hits answered before routing.
        middleware=hot_path_middleware(settings, lambda: gateway),
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
