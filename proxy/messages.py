"""What flows through the gateway: a request, a response, how it was served, and a Handler."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.identity import Identity

if TYPE_CHECKING:
    from proxy.cache_entry import CacheEntry


class CacheOutcome(enum.StrEnum):
    """How a response was served; written to `X-Cache` and the metrics label."""

    HIT = "HIT"  # fresh entry, GitHub not asked
    REVALIDATED = "REVALIDATED"  # GitHub answered 304 to our validator: no rate limit spent
    MISS = "MISS"  # GitHub answered with a full body (new or changed)
    COALESCED = "COALESCED"  # another request's upstream answer, shared
    STALE = "STALE"  # GitHub failed or the token is penalised: our own old entry
    BYPASS = "BYPASS"  # not cacheable (writes, GraphQL, /rate_limit, errors)

    @property
    def is_free(self) -> bool:
        """True when serving this spent no GitHub rate limit."""
        return self is not CacheOutcome.MISS and self is not CacheOutcome.BYPASS


class NotLeader(Exception):
    """Another call for the same cache key took the fleet-wide flight lease first: the
    upstream-protection stage raises it, single flight waits for that call's answer."""


@dataclass(frozen=True)
class FlightClaim:
    """The single-flight lease to take in the same script that admits the upstream call."""

    lease: str
    owner: str
    lease_ms: int


@dataclass
class StoreBatch:
    """Store writes whose answers nobody needs (the upstream call's bookkeeping, the new
    cache entry, the published answer, the lease's release), sent in one round trip when
    the call is done: on Upstash, each round trip is an HTTPS request."""

    commands: list[Sequence[str | int | float]] = field(default_factory=list)


@dataclass(frozen=True)
class GatewayRequest:
    """One GitHub API call as the gateway sees it, after the guard has validated the path.

    `path` and `query` are raw (percent-escapes kept); `headers` holds the caller's
    headers that matter to the gateway, lower-cased (only some are forwarded to GitHub).
    `public_base` is where the proxy is reached (`https://host/api/github`): GitHub's URLs
    in the answer are rewritten to it; None leaves them as GitHub sent them (in-process
    callers). The cache stages fill in the last four fields on the way in (`stamp`: the versions of
    the scopes the answer depends on, read before GitHub is asked).
    """

    method: str
    path: str
    query: str
    identity: Identity
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    request_id: str = ""
    public_base: str | None = None
    cache_key: str | None = None
    cached: CacheEntry | None = None
    stamp: str = ""
    validators: dict[str, str] = field(default_factory=dict)
    # The cache lookup's MGET, already answered in the caller-limit stage's round trip, and
    # the in-process tier's generation just before it was sent (see hot_tier.py).
    prefetched: list[str | None] | None = None
    prefetched_generation: int = 0
    # Set by single flight for the stages below it (see FlightClaim, StoreBatch).
    flight: FlightClaim | None = None
    batch: StoreBatch | None = None

    @property
    def is_read(self) -> bool:
        return self.method in ("GET", "HEAD")

    @property
    def accept(self) -> str:
        return self.headers.get("accept", "application/vnd.github+json")

    @property
    def api_version(self) -> str:
        return self.headers.get("x-github-api-version", "")


@dataclass
class GatewayResponse:
    """GitHub's answer in upstream form (body URLs not yet rewritten), and how it was served."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    outcome: CacheOutcome = CacheOutcome.BYPASS
    age_s: int | None = None
    # Caller rate-limit state, set by the caller-limit stage: (limit, remaining, reset_s).
    caller_limit: tuple[int, int, int] | None = None
    # The cache entry this answer is (set by the cache stages), for the in-process tier.
    entry: CacheEntry | None = None
    # An in-process entry's memo of its shaped form per public base (see hot_cache.py).
    shaped: dict[str, tuple[list[tuple[str, str]], bytes]] | None = None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key == lowered:
                return value
        return None


Handler = Callable[[GatewayRequest], Awaitable[GatewayResponse]]
