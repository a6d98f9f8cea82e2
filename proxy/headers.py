"""Which headers cross the proxy, in each direction.

Allowlists rather than denylists: hop-by-hop headers, `Host`, `Cookie`, `Forwarded` and
`X-Forwarded-*` never reach GitHub, and `Set-Cookie`, `Content-Encoding` and
`Content-Length` never come back (httpx has already decoded the body, so GitHub's framing
no longer matches it).
"""

from __future__ import annotations

# Caller headers the gateway looks at; of these, only the first two are forwarded as sent.
FORWARDED_TO_GITHUB = frozenset({"accept", "x-github-api-version"})
FORWARDED_ON_WRITES = frozenset({"content-type"})

KEPT_FROM_GITHUB = frozenset(
    {
        "content-type",
        "etag",
        "last-modified",
        "link",
        "location",
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-used",
        "x-ratelimit-reset",
        "x-ratelimit-resource",
        "x-github-request-id",
        "x-github-api-version-selected",
        "x-github-media-type",
        "x-oauth-scopes",
        "x-accepted-oauth-scopes",
        "x-accepted-github-permissions",
        "x-poll-interval",
        "deprecation",
        "sunset",
        "github-authentication-token-expiration",
    }
)

# Refreshed from a 304: what GitHub says now about budget and identity of the answer.
REFRESHED_BY_304 = frozenset(
    {
        "etag",
        "last-modified",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-used",
        "x-ratelimit-reset",
        "x-ratelimit-resource",
        "x-github-request-id",
    }
)

VARY = "Authorization, Accept, X-GitHub-Api-Version"
# A CDN in front (Vercel's) must never serve one caller's answer to another.
CACHE_CONTROL = "private, no-store"


def merge_304(stored: list[tuple[str, str]], fresh: list[tuple[str, str]]) -> list[tuple[str, str]]:
    updates = {name: value for name, value in fresh if name in REFRESHED_BY_304}
    merged = [(name, updates.pop(name, value)) for name, value in stored]
    merged.extend(updates.items())
    return merged


def etag_matches(if_none_match: str, etag: str | None) -> bool:
    """Weak comparison (RFC 9110 §13.1.2), as GitHub's anonymous ETags are weak."""
    if etag is None:
        return False
    if if_none_match.strip() == "*":
        return True
    ours = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == ours for tag in if_none_match.split(","))
