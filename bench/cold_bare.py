"""The cold-start baseline: Starlette with only what any serverless GitHub proxy imports."""

import httpx  # noqa: F401 - imported for its cost, as a proxy would
import upstash_redis.asyncio  # noqa: F401
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def ok(request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/", ok)])
