"""Fresh in-process hits answered straight from ASGI, before routing.

A polling dashboard lives on L1 hits, and on this machine Starlette's routing, its
Request and Response objects and the gateway's awaited stages cost several times the
bare route for an answer that is already bytes in memory. So a GET or HEAD under
`/api/github/` is first tried here with what this process already knows, without
awaiting anything:

    the caller's identity, remembered from a moment ago       (CallerResolver.remembered)
    the target, checked before                                  (parse_target's memo)
    a fresh L1 entry, already shaped for this public base      (HotCache)
    a read from this process's caller-limit lease               (CallerLimit)

and answered exactly as the full path would (`X-Cache: HIT`, `Age`, `RateLimit-*`, a 304
for a matching `If-None-Match`, the hit counted in the metrics). If any one of them is
missing — a first request, a cookie, a lease to renew, an entry not yet shaped for this
host — the request goes on to the app unchanged, and the full path answers it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from proxy import clock
from proxy.cache_key import key_for
from proxy.headers import CACHE_CONTROL, VARY, etag_matches
from proxy.http_request import PREFIX, client_ip_from, origin_from, request_id_from
from proxy.target import parse_target
from shared.config import Settings
from shared.errors import HubbubError

if TYPE_CHECKING:
    from proxy.gateway import Gateway

_PREFIX = (PREFIX + "/").encode()
_POST_ONLY = frozenset({"/batch", "/graphql"})
_DEFAULT_ACCEPT = "application/vnd.github+json"
_DROPPED_ON_304 = frozenset({b"content-type"})
_STATIC = [(b"x-cache", b"HIT")]
_TAIL = [(b"cache-control", CACHE_CONTROL.encode()), (b"vary", VARY.encode())]
_READ = frozenset(
    {
        b"authorization",
        b"accept",
        b"x-github-api-version",
        b"if-none-match",
        b"host",
        b"x-request-id",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
    }
)
_KEYS_KEPT = 10_000
_FULL_PATH = frozenset({b"cookie", b"content-length", b"transfer-encoding"})

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def hot_path_middleware(settings: Settings, gateway: Callable[[], Gateway]) -> list[Middleware]:
    """Inside CORS (which then decorates hot answers too), in front of the routes."""
    if settings.l1_ttl_s == 0:
        return []  # no L1, nothing to answer early
    return [Middleware(HotPath, settings=settings, gateway=gateway)]


class HotPath:
    def __init__(self, app: ASGIApp, settings: Settings, gateway: Callable[[], Gateway]) -> None:
        self.app = app
        self.settings = settings
        self.gateway = gateway
        # Bounded memos of what a hit would otherwise recompute every time.
        self._keys: dict[tuple[str, str, str, str, str], str] = {}
        self._bases: dict[tuple[str, str, str, str, str], str] = {}
        self._counters: dict[int, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = None
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
            if raw_path.startswith(_PREFIX):
                try:
                    answer = self._answer(scope, raw_path)
                except HubbubError:
                    answer = None  # the full path says what is wrong, in its own words
        if answer is None:
            await self.app(scope, receive, send)
            return
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _answer(self, scope: Scope, raw_path: bytes) -> Answer | None:
        seen: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _READ and name not in seen:  # the first, as Starlette's Headers
                seen[name] = value.decode("latin-1")
            elif name in _FULL_PATH:
                # Cookies: the CSRF rules live there. A body on a GET: its bound lives there.
                return None
        path = raw_path.decode("latin-1")[len(PREFIX) :]
        if path in _POST_ONLY:
            return None
        gateway = self.gateway()
        settings = self.settings
        address = client_ip_from(scope.get("client"), seen.get(b"x-forwarded-for", ""), settings)
        identity = gateway.callers.remembered(seen.get(b"authorization"), address)
        if identity is None:
            return None
        query = scope["query_string"].decode("latin-1")
        accept = seen.get(b"accept", _DEFAULT_ACCEPT)
        version = seen.get(b"x-github-api-version") or settings.github_api_version
        key = self._key(identity.partition, path, query, accept, version)
        now = clock.now_ms()
        hot = gateway.hot.get(key, now)
        if hot is None:
            return None
        base = self._base(scope, seen)
        shaped = hot.shaped.get(base)
        if shaped is None:
            return None  # the full path shapes it for this base once, then it is here
        wire = hot.wire.get(base)
        if wire is None:
            wire = hot.wire[base] = [
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in shaped[0]
            ]
        body = shaped[1]
        admitted, limit = gateway.caller_limit.spend_remembered(identity)
        if not admitted:
            return None
        status = hot.entry.status
        if_none_match = seen.get(b"if-none-match")
        if (
            if_none_match is not None
            and status == 200
            and etag_matches(if_none_match, hot.entry.etag)
        ):
            status, body = 304, b""
            wire = [(k, v) for k, v in wire if k not in _DROPPED_ON_304]
        # As the full path: a length for everything but a GET's 304 (HEAD: always).
        is_head = scope["method"] == "HEAD"
        length = (
            [] if status == 304 and not is_head else [(b"content-length", str(len(body)).encode())]
        )
        headers = [*length, *wire, *_STATIC]
        headers.append((b"age", str(hot.entry.age_s(now)).encode()))
        headers += _TAIL
        if limit is not None:
            headers += [
                (b"ratelimit-limit", str(limit[0]).encode()),
                (b"ratelimit-remaining", str(limit[1]).encode()),
                (b"ratelimit-reset", str(limit[2]).encode()),
            ]
        headers.append((b"x-request-id", request_id_from(seen.get(b"x-request-id", "")).encode()))
        # Counted as the full path counts it: the metric sees the entry, before any 304.
        self._count(gateway, hot.entry.status)
        return status, headers, b"" if is_head else body

    def _key(self, partition: str, path: str, query: str, accept: str, version: str) -> str:
        # Memoised: hashing and sorting the query cost more than the rest of a hit.
        memo = (partition, path, query, accept, version)
        key = self._keys.get(memo)
        if key is None:
            if len(self._keys) >= _KEYS_KEPT:
                self._keys.clear()
            key = self._keys[memo] = key_for(partition, parse_target(path, query), accept, version)
        return key

    def _base(self, scope: Scope, seen: dict[bytes, str]) -> str:
        host = seen.get(b"host", "")
        proto, forwarded = seen.get(b"x-forwarded-proto", ""), seen.get(b"x-forwarded-host", "")
        server = scope.get("server")
        memo = (scope.get("scheme", "http"), host, proto, forwarded, str(server))
        base = self._bases.get(memo)
        if base is None:
            if len(self._bases) >= _KEYS_KEPT:
                self._bases.clear()
            origin = origin_from(scope, host, proto, forwarded, self.settings)
            base = self._bases[memo] = origin + PREFIX
        return base

    def _count(self, gateway: Gateway, status: int) -> None:
        counter = self._counters.get(status)
        if counter is None:
            counter = self._counters[status] = gateway.metrics.responses.labels(
                "HIT", f"{status // 100}xx"
            )
        counter.inc()
