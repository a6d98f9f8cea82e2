"""From a caller's raw request path to a safe upstream URL: the guard's logic.

Why this is strict. The proxy forwards the caller's path to GitHub with the proxy's (or
the caller's) credential, caches the answer under that path and invalidates scopes by it.
A path that means one thing to us and another to httpx or GitHub would let a caller
reach another endpoint than the one we checked, cached or scoped, or another host.

Facts this module is built on (probed on this machine):

* uvicorn percent-decodes `scope["path"]`; we work from `scope["raw_path"]` (still encoded)
  and forward escapes exactly as received. GitHub *requires* `%2F` inside some parameters
  (`git/ref/heads%2Ffeature`), so encoded slashes are forwarded, neither decoded nor refused.
* httpx resolves `.`/`..` segments even inside a `raw_path`, and a base URL concatenated with
  a caller's text admits `@`-userinfo and host-suffix tricks; an absolute URL handed to
  `client.request()` overrides `base_url`. So the upstream URL is built from components
  (`httpx.URL(scheme=, host=, port=, raw_path=)`), never parsed from joined text, and its
  origin is checked again afterwards.
* GitHub decodes escapes before routing: `%3F`, `%23` and dot segments hidden behind `%2F`
  would change the meaning of the request there, after our checks.

Every rejection is a `PathRejected` (HTTP 400) whose message names the rule broken; it
never echoes the path or query, which may hold a credential.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote_to_bytes

import httpx

from shared.errors import PathRejected

MAX_PATH_BYTES = 2048
MAX_QUERY_BYTES = 2048

# Printable ASCII, space excluded: stops CR/LF header injection, NUL truncation, and
# non-ASCII that some layer might normalise (fullwidth dots, overlong forms) after us.
_PRINTABLE = re.compile(r"[\x21-\x7e]*")
# RFC 3986 path and query characters (`pchar`, `/`, and `?` in a query). The rest of
# printable ASCII (`"<>{}[]|^` and backtick) is not valid unencoded: httpx would re-encode
# some of it, so GitHub would not see the path we checked, cached and scoped.
_PATH_CHARS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*")
_QUERY_CHARS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*")
# A `%` followed by anything but two hex digits is malformed (`%`, `%2`, `%G1`): layers
# disagree on what it means, so it cannot be forwarded safely.
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})?")
# Query parameters that carry a credential: forwarded, they would land in GitHub's, our
# and every intermediary's access logs. Compared decoded and lower-cased.
_CREDENTIAL_PARAMS = frozenset({"access_token", "client_secret", "client_id", "code"})
_DOT_SEGMENTS = frozenset({b".", b".."})


@dataclass(frozen=True)
class Target:
    """A validated request target: the raw path and the raw query, escapes as received."""

    path: str  # starts with "/", percent-escapes exactly as received
    query: str  # without "?", "" if none

    def canonical(self) -> str:
        """The path and the query with its parameters sorted, for cache keys.

        Sorting is on the raw form, so `?b=2&a=1` and `?a=1&b=2` are one key while `%2F` and
        `/` (which may differ to GitHub) stay distinct. Empty parameters (`a=1&&b=2`) go.
        """
        params = [param for param in self.query.split("&") if param]
        if not params:
            return self.path
        params.sort(key=_param_sort_key)
        return f"{self.path}?{'&'.join(params)}"

    @property
    def path_and_query(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


def _param_sort_key(param: str) -> tuple[str, bool, str]:
    key, eq, value = param.partition("=")
    # `a` and `a=` are different parameters to some parsers: `eq` keeps them apart.
    return key, bool(eq), value


def parse_target(raw_path: bytes | str, raw_query: bytes | str = b"") -> Target:
    """Validate a raw path and query; return them unchanged as a Target or raise PathRejected."""
    path = _text(raw_path)
    query = _text(raw_query)
    if len(path) + len(query) <= _REMEMBERED_LENGTH:
        return _remembered(path, query)
    return _parse(path, query)


def _parse(path: str, query: str) -> Target:
    _check_path(path)
    _check_query(query)
    return Target(path, query)


# A polling dashboard asks for the same few targets all day, and the HTTP app and the
# guard both check each request: short targets that passed are remembered (refusals raise,
# and lru_cache keeps nothing for them).
_REMEMBERED_LENGTH = 512
_remembered = functools.lru_cache(maxsize=4096)(_parse)


def split_reference(reference: str) -> Target:
    """Validate a path-and-query reference from a batch body ("/repos/a/b/issues?state=all").

    Only origin-relative references are accepted: an absolute URL (`https://evil/x`) or a
    network-path reference (`//evil/x`) would name another host, and a fragment has no
    meaning to an API.
    """
    if not isinstance(reference, str):
        raise PathRejected("a request path must be a string")
    if "#" in reference:
        raise PathRejected("a request path must not contain a fragment (#)")
    if reference.startswith("//"):
        raise PathRejected("a request path must not name a host (//host)")
    if not reference.startswith("/"):
        raise PathRejected("a request path must start with / (absolute URLs are refused)")
    path, _, query = reference.partition("?")
    return parse_target(path, query)


def upstream_url(api_base: str, target: Target) -> httpx.URL:
    """Build GitHub's URL for `target` under `api_base` from components, then verify its origin.

    `api_base` is an origin with an optional path prefix (GHES: `https://ghe.example.com/api/v3`);
    the target's path goes after the prefix. The target is validated again here so that no
    caller can skip the guard by building a Target by hand.
    """
    scheme, host, port, prefix = _base(api_base)
    checked = parse_target(target.path, target.query)
    raw = prefix + checked.path.encode("ascii")
    if checked.query:
        raw += b"?" + checked.query.encode("ascii")
    url = httpx.URL(scheme=scheme, host=host, port=port, raw_path=raw)
    # Belt and braces: whatever httpx did with the path, the URL must still point at the
    # configured origin, carry no userinfo, and hold the path exactly as we built it.
    if (
        url.scheme != scheme
        or url.host != host
        or url.port != port
        or url.userinfo
        or url.fragment
        or url.raw_path != raw
    ):
        raise PathRejected("path would leave the GitHub API origin")
    return url


@lru_cache(maxsize=16)
def _base(api_base: str) -> tuple[str, str, int | None, bytes]:
    """Split the configured API base into (scheme, host, port, path prefix without trailing /)."""
    base = httpx.URL(api_base)
    if base.scheme not in ("http", "https") or not base.host:
        raise ValueError("the GitHub API base must be an http(s) URL with a host")
    if base.userinfo or base.query or base.fragment:
        raise ValueError("the GitHub API base must be an origin with an optional path only")
    return base.scheme, base.host, base.port, base.raw_path.rstrip(b"/")


def _text(raw: bytes | str) -> str:
    # latin-1 maps every byte to one char, so a non-ASCII byte survives to be rejected
    # by the printable check instead of being decoded into something else.
    return raw.decode("latin-1") if isinstance(raw, bytes) else raw


def _check_path(path: str) -> None:
    if not path.startswith("/"):
        raise PathRejected("path must start with /")
    if len(path) > MAX_PATH_BYTES:
        raise PathRejected(f"path is longer than {MAX_PATH_BYTES} bytes")
    if not _PRINTABLE.fullmatch(path):
        # CR/LF (header injection), NUL, spaces, DEL, non-ASCII.
        raise PathRejected("path must be printable ASCII (no spaces, control or non-ASCII)")
    if "\\" in path:
        # Some URL parsers treat `\` as `/` (`/\evil.example` is a host to a browser).
        raise PathRejected("path must not contain a backslash")
    if "#" in path:
        raise PathRejected("path must not contain a fragment (#)")
    if "?" in path:
        # The query travels separately; a `?` here would move the boundary between them.
        raise PathRejected("path must not contain ? (the query is separate)")
    if "@" in path:
        # `base + "@evil.example"` is userinfo@host to a URL parser; GitHub wants `%40`.
        raise PathRejected("path must not contain a literal @ (encode it as %40)")
    if not _PATH_CHARS.fullmatch(path):
        raise PathRejected("path has characters that must be percent-encoded")
    for match in _ESCAPE.finditer(path):
        _check_path_escape(match)

    if path == "/":
        return  # GitHub's API root
    segments = path[1:].split("/")
    first = unquote_to_bytes(segments[0])
    if b":" in first or b"/" in first:
        # `/https://evil.example/`, `/evil.example:443/`, `/%2F%2Fevil.example`: text that
        # a careless join would turn into a scheme or a host.
        raise PathRejected("the first path segment must not look like a scheme or host")
    if "" in segments:
        # `//evil.example/x` is a network-path reference to another host; a trailing `/`
        # or `a//b` is another resource to some routers than to our cache and scopes.
        raise PathRejected("path must not contain empty segments (// or a trailing /)")
    for segment in segments:
        # Decode once, the way GitHub will, and look behind encoded slashes too:
        # `/repos/a%2F..%2F..%2Fuser` is `/user` once `%2F` is decoded and `..` resolved.
        pieces = unquote_to_bytes(segment).split(b"/")
        if not _DOT_SEGMENTS.isdisjoint(pieces):
            raise PathRejected("path must not contain . or .. segments in any spelling")


def _check_path_escape(match: re.Match[str]) -> None:
    digits = match.group(1)
    if digits is None:
        raise PathRejected("path contains a malformed percent-escape")
    byte = int(digits, 16)
    if byte < 0x20 or byte == 0x7F:
        # `%0d%0a` (header or log injection), `%00` (truncation).
        raise PathRejected("path must not contain encoded control characters")
    if byte in (0x3F, 0x23):
        # GitHub decodes `%3F`/`%23` into a query or fragment we never checked.
        raise PathRejected("path must not contain an encoded ? or #")
    if byte == 0x5C:
        raise PathRejected("path must not contain a backslash")


def _check_query(query: str) -> None:
    if not query:
        return
    if len(query) > MAX_QUERY_BYTES:
        raise PathRejected(f"query is longer than {MAX_QUERY_BYTES} bytes")
    if not _PRINTABLE.fullmatch(query):
        raise PathRejected("query must be printable ASCII (no spaces, control or non-ASCII)")
    if "#" in query:
        raise PathRejected("query must not contain a fragment (#)")
    if not _QUERY_CHARS.fullmatch(query):
        raise PathRejected("query has characters that must be percent-encoded")
    for match in _ESCAPE.finditer(query):
        digits = match.group(1)
        if digits is None:
            raise PathRejected("query contains a malformed percent-escape")
        byte = int(digits, 16)
        if byte < 0x20 or byte == 0x7F:
            raise PathRejected("query must not contain encoded control characters")
    # `;` too: some server-side parsers still split on it.
    for param in re.split(r"[&;]", query):
        name = param.partition("=")[0].replace("+", " ")
        # Decoded, case-folded, trimmed, and `name[]` counted as `name`: every spelling a
        # parser might still read as the credential parameter.
        decoded = unquote_to_bytes(name).decode("latin-1").strip().lower().partition("[")[0]
        if decoded in _CREDENTIAL_PARAMS:
            # Never echo the value: this message is shown to the client and logged.
            raise PathRejected(
                "credentials must not be sent in the query string; use the Authorization header"
            )
