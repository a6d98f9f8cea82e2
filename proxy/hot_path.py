"""Fresh in-process hits answered straight from ASGI, before routing.

A polling dashboard lives on L1 hits, and on this machine Starlette's routing, its
Request and Response objects and the gateway's awaited stages cost several times the
bare route for an answer that is already bytes in memory. So a GET or HEAD under
`/api/github/` is first tried here with what this process already knows, awaiting
nothing but, when L1 does not hold the entry, one read of the shared cache:

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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from proxy import clock
from proxy.cache_entry import CacheEntry
from proxy.cache_key import key_for
from proxy.direct_answer import DirectAnswers, Kept, Lines
from proxy.headers import CACHE_CONTROL, VARY, etag_matches
from proxy.http_request import PREFIX, client_ip_from, origin_from, request_id_from
from proxy.link_rewrite import UrlRewriter
from proxy.messages import CacheOutcome
from proxy.scopes import stamp_of, stamp_scopes
from proxy.stages.cache_lookup import UNCACHED_PATHS
from proxy.stages.shaping import rewrite_header
from proxy.target import parse_target
from shared.config import Settings
from shared.errors import HubbubError, StoreError
from shared.identity import Identity
from shared.store import SubscribingStore

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
_DECODES_KEPT = 256  # shared-cache entries kept decoded, each with its stored text
_FULL_PATH = frozenset({b"cookie", b"content-length", b"transfer-encoding"})

# Where the hot path leaves its shared-cache read for the full path (scope["state"]), so a
# request it could not answer costs no second read.
PREFETCHED = "hubbub.prefetched"


@dataclass(slots=True)
class _Ask:
    """What a GET under /api/github/ asks, as far as the hot path needs to know."""

    seen: dict[bytes, str]
    identity: Identity
    path: str
    key: str
    base: str
    is_head: bool


@dataclass(slots=True)
class _Hit:
    """A hit's answer: its header lines in three runs (those that change with each
    request around those an entry always sends, which `kept` may hold joined, ready to
    write), and the body."""

    status: int
    front: Lines
    fixed: Lines
    back: Lines
    body: bytes
    # Where the fixed lines, joined for a direct answer, are kept (the L1 entry's), and
    # under which key; None: L1 does not keep the entry (DirectAnswers remembers them).
    kept: Kept | None
    kept_as: tuple[str, bool]

    def headers(self) -> Lines:
        return [*self.front, *self.fixed, *self.back]


@dataclass(slots=True)
class _Decoded:
    """A shared-cache entry as last read here for a key and public base: its stored text,
    the entry decoded from it and, once served, its answer shaped for that base. With L1
    off every hit still reads the shared cache, but the same text is not parsed and
    rewritten again."""

    stored: str
    entry: CacheEntry
    shaped: tuple[list[tuple[str, str]], bytes] | None = None
    wire: Lines | None = None


@dataclass(frozen=True)
class _Read:
    """What a shared-cache lookup of one key reads, and how long its entries are fresh."""

    keys: list[str]
    scopes: tuple[str, ...]
    fresh_s: int


def hot_path_middleware(settings: Settings, gateway: Callable[[], Gateway]) -> list[Middleware]:
    """Inside CORS (which then decorates hot answers too), in front of the routes."""
    if settings.l1_ttl_s == 0 and settings.store_backend == "rest":
        return []  # neither tier can answer early (see HotPath._from_shared)
    return [Middleware(HotPath, settings=settings, gateway=gateway)]


class HotPath:
    def __init__(self, app: ASGIApp, settings: Settings, gateway: Callable[[], Gateway]) -> None:
        self.app = app
        self.settings = settings
        self.gateway = gateway
        self.l1 = settings.l1_ttl_s > 0
        # On the REST store every read is an HTTPS request, and the full path folds the
        # cache read into the caller limit's own; a read here first would add one. Known
        # once the gateway (and so its store) exists.
        self._l2: bool | None = None
        self.settle_ms = settings.invalidation_settle_s * 1000
        # Bounded memos of what a hit would otherwise recompute every time.
        self._keys: dict[tuple[str, str, str, str, str], str] = {}
        self._bases: dict[tuple[str, str, str, str, str], str] = {}
        self._reads: dict[str, _Read] = {}
        self._rewriters: dict[str, UrlRewriter] = {}
        self._counters: dict[int, Any] = {}
        self._decodes: dict[tuple[str, str], _Decoded] = {}
        self.direct = DirectAnswers(settings.direct_write)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = None
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
            if raw_path.startswith(_PREFIX):
                try:
                    ask = self._ask(scope, raw_path)
                    if ask is not None:
                        answer, in_memory = self._from_memory(ask) if self.l1 else (None, False)
                        # An L1 entry not yet shaped for this host: the full path serves
                        # it from memory and shapes it.
                        if answer is None and self.l2 and not in_memory:
                            answer = await self._from_shared(ask, scope)
                except HubbubError:
                    answer = None  # the full path says what is wrong, in its own words
        if answer is None:
            await self.app(scope, receive, send)
            return
        if self.direct.wanted and self._write_direct(answer, scope, send):
            return
        headers = answer.headers()
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    def _write_direct(self, answer: _Hit, scope: Scope, send: Send) -> bool:
        """The answer in one write to uvicorn's transport (proxy/direct_answer.py)."""
        direct = self.direct
        cycle = direct.cycle(scope, send)
        if cycle is None:
            return False
        fixed = direct.fixed_lines(answer.fixed, answer.kept, answer.kept_as)
        if fixed is None:
            return False  # a line uvicorn must read (or would refuse): its `send` writes it
        start = direct.start(cycle, answer.status)
        if start is None:
            return False
        self.gateway().metrics.direct_answers.inc()
        head = (start, *_joined(answer.front), fixed, *_joined(answer.back))
        # The last step: after it the response is sent and uvicorn's cycle complete, so
        # nothing may raise into Starlette's error middleware, which never saw it start.
        direct.write(cycle, head, answer.body)
        return True

    @property
    def l2(self) -> bool:
        if self._l2 is None:
            self._l2 = isinstance(self.gateway().store, SubscribingStore)
        return self._l2

    def _ask(self, scope: Scope, raw_path: bytes) -> _Ask | None:
        seen: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _READ and name not in seen:  # the first, as Starlette's Headers
                seen[name] = value.decode("latin-1")
            elif name in _FULL_PATH:
                # Cookies: the CSRF rules live there. A body on a GET: its bound lives there.
                return None
        path = raw_path.decode("latin-1")[len(PREFIX) :]
        if path in _POST_ONLY or path in UNCACHED_PATHS:
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
        is_head = scope["method"] == "HEAD"
        return _Ask(seen, identity, path, key, self._base(scope, seen), is_head)

    def _from_memory(self, ask: _Ask) -> tuple[_Hit | None, bool]:
        """A fresh L1 entry, already shaped for this public base; and whether L1 holds
        the entry at all."""
        gateway = self.gateway()
        now = clock.now_ms()
        hot = gateway.hot.get(ask.key, now)
        if hot is None:
            return None, False
        shaped = hot.shaped.get(ask.base)
        if shaped is None:
            return None, True  # the full path shapes it for this base once, then it is here
        wire = hot.wire.get(ask.base)
        if wire is None:
            wire = hot.wire[ask.base] = _encoded(shaped[0])
        admitted, limit = gateway.caller_limit.spend_remembered(ask.identity)
        if not admitted:
            return None, True
        return self._finish(ask, hot.entry, wire, shaped[1], limit, now, hot.lines), True

    async def _from_shared(self, ask: _Ask, scope: Scope) -> _Hit | None:
        """A fresh entry of the shared cache: one MGET, as the full path's lookup reads
        it, and the answer built as the full path would build it (kept in L1 too). Not
        fresh, or no lease: the full path goes on with what was read."""
        gateway = self.gateway()
        read = self._read(ask.key, ask.path)
        generation = gateway.hot.generation
        try:
            values = await gateway.store.mget(read.keys)
        except StoreError:
            # As the full path's lookup does then: on without the cache (and without
            # waiting for the Store a second time).
            values = [None] * len(read.keys)
            self._hand_over(scope, ask, values, generation)
            return None
        stored, *versions = values
        decoded = self._decoded(ask, stored)
        now = clock.now_ms()
        if decoded is None or not decoded.entry.is_fresh(
            now, read.fresh_s, stamp_of(versions), self.settle_ms
        ):
            self._hand_over(scope, ask, values, generation)
            return None
        admitted, limit = gateway.caller_limit.spend_remembered(ask.identity)
        if not admitted:
            self._hand_over(scope, ask, values, generation)
            return None
        entry, shaped, wire = decoded.entry, decoded.shaped, decoded.wire
        if shaped is None or wire is None:
            rewriter = self._rewriter(ask.base)
            response = entry.to_response(CacheOutcome.HIT, now)
            headers = [rewrite_header(rewriter, name, value) for name, value in response.headers]
            shaped = decoded.shaped = (headers, rewriter.body(response.body))
            wire = decoded.wire = _encoded(headers)
        kept = self._keep(ask, entry, read, shaped, generation, now) if self.l1 else None
        return self._finish(ask, entry, wire, shaped[1], limit, now, kept)

    def _decoded(self, ask: _Ask, stored: str | None) -> _Decoded | None:
        """The entry in `stored` and its answer for this public base: made again only
        when the stored text differs from what this key last held here."""
        if stored is None:
            return None
        memo = (ask.key, ask.base)
        decoded = self._decodes.get(memo)
        if decoded is None or decoded.stored != stored:
            entry = CacheEntry.decode(stored)
            if entry is None:
                return None
            if len(self._decodes) >= _DECODES_KEPT:
                self._decodes.clear()
            decoded = self._decodes[memo] = _Decoded(stored, entry)
        return decoded

    @staticmethod
    def _hand_over(scope: Scope, ask: _Ask, values: list[str | None], generation: int) -> None:
        """What was read, for the full path: valid for the same caller's partition only
        (its identity is resolved again there)."""
        scope.setdefault("state", {})[PREFETCHED] = (ask.identity.partition, values, generation)

    def _keep(
        self,
        ask: _Ask,
        entry: CacheEntry,
        read: _Read,
        shaped: tuple[list[tuple[str, str]], bytes],
        generation: int,
        now: int,
    ) -> Kept | None:
        """Into L1, as the full path's in-process tier keeps what the shared cache served;
        answers where the kept entry holds its joined header lines."""
        gateway = self.gateway()
        expires = entry.fresh_until_ms(read.fresh_s, self.settle_ms)
        if not gateway.subscribed:
            expires = min(expires, now + self.settings.l1_ttl_s * 1000)
        if expires <= now:
            return None
        gateway.hot.put(ask.key, entry, read.scopes, expires, generation)
        hot = gateway.hot.get(ask.key, now)
        # Not kept (an invalidation came, or it is too big): what L1 holds under the key
        # may be another version, whose shaped forms must stay its own.
        if hot is None or hot.entry is not entry:
            return None
        hot.shaped[ask.base] = shaped
        return hot.lines

    def _finish(
        self,
        ask: _Ask,
        entry: CacheEntry,
        wire: Lines,
        body: bytes,
        limit: tuple[int, int, int] | None,
        now: int,
        kept: Kept | None,
    ) -> _Hit:
        """The answer exactly as the full path sends a hit: 304 for a matching
        `If-None-Match`, `Age`, `X-Cache`, `RateLimit-*`, the request id."""
        status = entry.status
        if_none_match = ask.seen.get(b"if-none-match")
        not_modified = (
            if_none_match is not None and status == 200 and etag_matches(if_none_match, entry.etag)
        )
        if not_modified:
            status, body = 304, b""
            wire = [(k, v) for k, v in wire if k not in _DROPPED_ON_304]
        # As the full path: a length for everything but a GET's 304 (HEAD: always).
        front = (
            []
            if status == 304 and not ask.is_head
            else [(b"content-length", str(len(body)).encode())]
        )
        back = [(b"age", str(entry.age_s(now)).encode()), *_TAIL]
        if limit is not None:
            back += [
                (b"ratelimit-limit", str(limit[0]).encode()),
                (b"ratelimit-remaining", str(limit[1]).encode()),
                (b"ratelimit-reset", str(limit[2]).encode()),
            ]
        request_id = request_id_from(ask.seen.get(b"x-request-id", ""))
        back.append((b"x-request-id", request_id.encode()))
        # Counted as the full path counts it: the metric sees the entry, before any 304.
        self._count(self.gateway(), entry.status)
        return _Hit(
            status,
            front,
            [*wire, *_STATIC],
            back,
            b"" if ask.is_head else body,
            kept,
            (ask.base, not_modified),
        )

    def _read(self, key: str, path: str) -> _Read:
        read = self._reads.get(key)
        if read is None:
            if len(self._reads) >= _KEYS_KEPT:
                self._reads.clear()
            keys = self.gateway().keys
            scopes = tuple(stamp_scopes(path))
            read = self._reads[key] = _Read(
                [keys.cache_entry(key), *(keys.scope_version(scope) for scope in scopes)],
                scopes,
                self.settings.fresh_s_for(path),
            )
        return read

    def _rewriter(self, base: str) -> UrlRewriter:
        rewriter = self._rewriters.get(base)
        if rewriter is None:
            if len(self._rewriters) >= 64:
                self._rewriters.clear()
            api = self.settings.github_api_url.rstrip("/")
            rewriter = self._rewriters[base] = UrlRewriter(api, base)
        return rewriter

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


def _joined(lines: Lines) -> list[bytes]:
    # Lines the hot path wrote itself: digits, fixed names and a checked request id.
    return [b"%s: %s\r\n" % line for line in lines]


def _encoded(headers: list[tuple[str, str]]) -> Lines:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
