"""Cross-origin access for the dashboards in HUBBUB_ALLOWED_ORIGINS (Starlette's
CORSMiddleware): their pages may call every route with credentials and read the headers
a dashboard shows (`X-Cache`, `Age`, `ETag`, `Link`, the rate limits), and a browser's
MCP client may carry its session. No origin
configured, no middleware: nothing is spent on requests that never cross origins."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from shared.config import Settings

_SENT = [
    "authorization",
    "accept",
    "content-type",
    "if-none-match",
    "x-github-api-version",
    "x-request-id",
    # A browser's MCP client (/mcp): its session, protocol version and resumption.
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
]
_SHOWN = [
    "x-cache",
    "age",
    "etag",
    "link",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
    "x-request-id",
    "x-github-request-id",
    "mcp-session-id",
    "www-authenticate",
]


def cors_middleware(settings: Settings) -> list[Middleware]:
    if not settings.allowed_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.allowed_origins),
            allow_credentials=True,
            allow_methods=["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=_SENT,
            expose_headers=_SHOWN,
            max_age=600,
        )
    ]
