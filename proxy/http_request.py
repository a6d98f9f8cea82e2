"""What the HTTP routes read off a request: who sent it from where, under which id, to
which public address, and its body within a bound. Shared by the proxy and auth routes."""

from __future__ import annotations

import re
import uuid

from starlette.requests import Request

from shared.config import Settings
from shared.errors import BodyTooLarge

PREFIX = "/api/github"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def request_id(request: Request) -> str:
    offered = request.headers.get("x-request-id", "")
    return offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex[:16]


def client_ip(request: Request, settings: Settings) -> str:
    if settings.trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.client.host if request.client else "unknown"


def public_base(request: Request, settings: Settings) -> str:
    return own_origin(request, settings) + PREFIX


def own_origin(request: Request, settings: Settings) -> str:
    """Where clients reach this server (`scheme://host`): HUBBUB_PUBLIC_URL, else the request's
    `Host` (and `X-Forwarded-*` behind a trusted proxy) when it is a plain host."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    scheme, host = request.url.scheme, request.headers.get("host", "")
    if settings.trust_proxy_headers:
        scheme = request.headers.get("x-forwarded-proto", scheme).split(",")[0].strip()
        host = request.headers.get("x-forwarded-host", host).split(",")[0].strip()
    if scheme not in ("http", "https") or not _HOST.fullmatch(host):
        # A Host we cannot trust into a URL: answer with the address we were reached on.
        server = request.scope.get("server") or ("127.0.0.1", 80)
        scheme, host = "http", f"{server[0]}:{server[1]}"
    return f"{scheme}://{host}"


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
