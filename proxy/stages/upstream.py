"""The last stage: one HTTP call to GitHub through httpx; never retries, never follows redirects.

httpx errors are translated here, where they enter, into UpstreamUnavailable.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from proxy.headers import FORWARDED_ON_WRITES, FORWARDED_TO_GITHUB, KEPT_FROM_GITHUB
from proxy.link_rewrite import UrlRewriter
from proxy.messages import CacheOutcome, GatewayRequest, GatewayResponse
from proxy.target import Target, upstream_url
from shared.config import Settings
from shared.errors import UpstreamUnavailable

log = logging.getLogger("hubbub.upstream")

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def graphql_base(api_base: str) -> str:
    """GitHub Enterprise Server serves REST at /api/v3 but GraphQL at /api/graphql."""
    return api_base[: -len("/v3")] if api_base.rstrip("/").endswith("/api/v3") else api_base


class Upstream:
    """Sends the request to GitHub and returns its answer with only the headers we keep."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.api_base = settings.github_api_url.rstrip("/")
        self.timeout_s = settings.upstream_timeout_s
        self.redirects = UrlRewriter(self.api_base, "")

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        base = graphql_base(self.api_base) if request.path == "/graphql" else self.api_base
        url = upstream_url(base, Target(request.path, request.query))
        headers = self._headers(request)
        try:
            # httpx's timeouts bound each read; this bounds the whole exchange, as GitHub
            # bounds its own work at 10 s.
            async with asyncio.timeout(self.timeout_s):
                reply = await self.client.request(
                    request.method, url, headers=headers, content=request.body or None
                )
        except (httpx.TimeoutException, TimeoutError) as exc:
            log.warning(
                "upstream %s %s timed out", request.method, request.path, extra=_ids(request)
            )
            raise UpstreamUnavailable(
                "GitHub did not answer in time", status=504, code="upstream_timeout"
            ) from exc
        except httpx.HTTPError as exc:
            log.warning(
                "upstream %s %s failed: %s",
                request.method,
                request.path,
                type(exc).__name__,
                extra=_ids(request),
            )
            raise UpstreamUnavailable(
                "GitHub could not be reached", status=502, code="upstream_unreachable"
            ) from exc
        kept = [
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in reply.headers.raw
            if name.decode("latin-1").lower() in KEPT_FROM_GITHUB
        ]
        if reply.status_code in _REDIRECTS:
            location = reply.headers.get("location", "")
            if self.redirects.location(location) is None:
                raise UpstreamUnavailable(
                    "GitHub redirected to another host; the proxy does not follow it",
                    code="redirect_refused",
                )
        log.info(
            "upstream %s %s -> %s",
            request.method,
            request.path,
            reply.status_code,
            extra={
                "request_id": request.request_id,
                "github_request_id": reply.headers.get("x-github-request-id", ""),
            },
        )
        return GatewayResponse(
            status=reply.status_code,
            headers=kept,
            body=reply.content,
            outcome=CacheOutcome.BYPASS if request.cache_key is None else CacheOutcome.MISS,
        )

    def _headers(self, request: GatewayRequest) -> dict[str, str]:
        headers = {
            "user-agent": self.settings.user_agent,
            "accept": request.accept,
            "x-github-api-version": request.api_version or self.settings.github_api_version,
        }
        for name in FORWARDED_TO_GITHUB | (FORWARDED_ON_WRITES if request.body else frozenset()):
            if name in request.headers:
                headers[name] = request.headers[name]
        headers.update(request.validators)
        authorization = request.identity.authorization
        if authorization is not None:
            headers["authorization"] = authorization
        return headers


def _ids(request: GatewayRequest) -> dict[str, str]:
    return {"request_id": request.request_id}
