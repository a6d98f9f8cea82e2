"""What the HTTP routes read off a request: who sent it from where, under which id, to
which public address, and its body within a bound. Shared by the proxy and auth routes."""

from __future__ import annotations

import random
import re

from starlette.requests import Request
from starlette.types import Scope

from shared.config import Settings
from shared.errors import BodyTooLarge

PREFIX = "/api/github"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def request_id(request: Request) -> str:
    return request_id_from(request.headers.get("x-request-id", ""))


def request_id_from(offered: str) -> str:
    # 64 random bits, as uuid4().hex[:16] gave. Not a secret, only a name for log lines, so
    # the process's PRNG (reseeded in every forked worker) rather than a getrandom()
    # system call, which cost a tenth of an in-process hit.
    if offered and _REQUEST_ID.fullmatch(offered):
        return offered
    return f"{random.getrandbits(64):016x}"


def client_ip(request: Request, settings: Settings) -> str:
    client = request.scope.get("client")
    return client_ip_from(client, request.headers.get("x-forwarded-for", ""), settings)


def client_ip_from(client: tuple[str, int] | None, forwarded_for: str, settings: Settings) -> str:
    if settings.trust_proxy_headers:
        forwarded = forwarded_for.split(",")[0].strip()
        if forwarded:
            return forwarded
    return client[0] if client else "unknown"


def public_base(request: Request, settings: Settings) -> str:
    return own_origin(request, settings) + PREFIX


def own_origin(request: Request, settings: Settings) -> str:
    headers = request.headers
    return origin_from(
        request.scope,
        headers.get("host", ""),
        headers.get("x-forwarded-proto", ""),
        headers.get("x-forwarded-host", ""),
        settings,
    )


def origin_from(
    scope: Scope, host: str, forwarded_proto: str, forwarded_host: str, settings: Settings
) -> str:
    """Where clients reach this server (`scheme://host`): HUBBUB_PUBLIC_URL, else the request's
    `Host` (and `X-Forwarded-*` behind a trusted proxy) when it is a plain host."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    scheme = scope.get("scheme", "http")
    if settings.trust_proxy_headers:
        scheme = (forwarded_proto or scheme).split(",")[0].strip()
        host = (forwarded_host or host).split(",")[0].strip()
    if scheme not in ("http", "https") or not _HOST.fullmatch(host):
        # A Host we cannot trust into a URL: answer with the address we were reached on.
        server = scope.get("server") or ("127.0.0.1", 80)
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
