"""Shapes every answer for the caller on the way out, hits included.

Rewrites GitHub's URLs (Link, Location, and API URLs in bodies) to the proxy, answers a
matching `If-None-Match` with 304, and adds how the answer was served (`X-Cache`, `Age`)
and the caller's limit (`RateLimit-*`). `Cache-Control: private, no-store` and `Vary`
keep any CDN in front from serving one caller's answer to another.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

from proxy.headers import CACHE_CONTROL, VARY, etag_matches
from proxy.link_rewrite import UrlRewriter
from proxy.messages import CacheOutcome, GatewayRequest, GatewayResponse, Handler

# Rewritten copies kept per in-process entry: one per public host a deployment answers on.
# Without HUBBUB_PUBLIC_URL any Host header is a new base, and copies are not counted in
# the L1 byte bound, so past a few the rest are rewritten each time instead of kept.
SHAPED_KEPT = 4
_AGED = frozenset({CacheOutcome.HIT, CacheOutcome.REVALIDATED, CacheOutcome.STALE})
# 304 keeps the validators and metadata; the body's own headers go (RFC 9110 §15.4.5).
_DROPPED_ON_304 = frozenset({"content-type"})


class Shaping:
    def __init__(self, inner: Handler, api_base: str) -> None:
        self.inner = inner
        self.api_base = api_base.rstrip("/")

    @lru_cache(maxsize=64)  # noqa: B019 - one rewriter per public base, for the process's life
    def _rewriter(self, public_base: str) -> UrlRewriter:
        return UrlRewriter(self.api_base, public_base)

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        response = await self.inner(request)
        headers = list(response.headers)
        body = response.body
        if request.public_base is not None:
            memo = response.shaped
            shaped = memo.get(request.public_base) if memo is not None else None
            if shaped is not None:  # an in-process hit, rewritten for this base before
                headers, body = list(shaped[0]), shaped[1]
            else:
                rewriter = self._rewriter(request.public_base)
                headers = [rewrite_header(rewriter, name, value) for name, value in headers]
                body = rewriter.body(body)
                if memo is not None and len(memo) < SHAPED_KEPT:
                    memo[request.public_base] = (list(headers), body)
        status = response.status
        if_none_match = request.headers.get("if-none-match")
        if (
            if_none_match is not None
            and status == 200
            and etag_matches(if_none_match, response.header("etag"))
        ):
            status, body = 304, b""
            headers = [(name, value) for name, value in headers if name not in _DROPPED_ON_304]
        headers.append(("x-cache", response.outcome.value))
        if response.outcome in _AGED and response.age_s is not None:
            headers.append(("age", str(response.age_s)))
        headers.append(("cache-control", CACHE_CONTROL))
        headers.append(("vary", VARY))
        if response.caller_limit is not None:
            limit, remaining, reset_s = response.caller_limit
            headers += [
                ("ratelimit-limit", str(limit)),
                ("ratelimit-remaining", str(remaining)),
                ("ratelimit-reset", str(reset_s)),
            ]
        if request.request_id:
            headers.append(("x-request-id", request.request_id))
        # A new object: a single-flight answer is shared, and each caller shapes its own copy.
        return dataclasses.replace(response, status=status, headers=headers, body=body)


def rewrite_header(rewriter: UrlRewriter, name: str, value: str) -> tuple[str, str]:
    if name == "link":
        return name, rewriter.link(value)
    if name == "location":
        return name, rewriter.location(value) or value
    return name, value
