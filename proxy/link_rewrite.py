"""Rewrites GitHub's API URLs in answers so that clients stay on the proxy.

Why: paginating clients follow `Link: <...>; rel="next"`, hypermedia clients follow the
`url`/`*_url` fields of bodies, and redirects carry a `Location`. Left as GitHub sent
them, these send the client (and its token) straight to GitHub, past the cache and the
rate limiting. Only URLs under the configured API base are rewritten:

* `https://github.com/...` (`html_url`) stays: it is a page for humans, not the API;
* a host that merely starts with the base (`https://api.github.com.evil.test`) or another
  port (`https://api.github.com:8443`) is a different origin and stays;
* on GitHub Enterprise Server the base has a path (`https://ghe.example.com/api/v3`); only
  URLs under that prefix are the API, the rest of the host is the web UI.

`location()` also decides whether a redirect may be passed on at all: it returns None for
anything that is not the API, and the caller refuses that redirect.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

# An angle-bracketed URI reference in a Link header (RFC 8288).
_LINK_TARGET = re.compile(r"<([^<>]*)>")
# Printable ASCII without space and backslash: anything else in a URL is a parser
# differential waiting to happen (`https://evil.test\@api.github.com/`).
_PLAIN_URL = re.compile(r"[\x21-\x5b\x5d-\x7e]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# What may follow the API base in a body for the match to be the base and not a longer host
# (`.evil.test`), another port (`:8443`) or userinfo (`@evil.test`).
_BODY_TERMINATORS = (b"/", b'"', b"?", b"#", b"{")  # "/" first: body() relies on it


class UrlRewriter:
    """Maps URLs under `api_base` to the same path under `public_base`."""

    def __init__(self, api_base: str, public_base: str) -> None:
        self.api_base = api_base.rstrip("/")
        self.public_base = public_base.rstrip("/")
        parts = urlsplit(self.api_base)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError("the API base must be an http(s) URL with a host")
        self._scheme = parts.scheme.lower()
        self._host = parts.hostname.lower()
        self._port = parts.port or _DEFAULT_PORTS[self._scheme]
        self._prefix = parts.path  # "" or e.g. "/api/v3", without a trailing slash

        api = self.api_base.encode("ascii")
        public = self.public_base.encode("ascii")
        self._api_bytes = api
        self._public_bytes = public
        self._body_pairs = [(api + end, public + end) for end in _BODY_TERMINATORS]
        # JSON may escape "/" as "\/": the same URL, spelled for a JSON string.
        api_escaped = api.replace(b"/", b"\\/")
        public_escaped = public.replace(b"/", b"\\/")
        self._api_escaped = api_escaped
        self._escaped_pairs = [
            (api_escaped + b"\\/", public_escaped + b"\\/"),
            (api_escaped + b'"', public_escaped + b'"'),
        ]

    def body(self, body: bytes) -> bytes:
        """Rewrite the API base in JSON text; a few bytes.replace calls, no parsing."""
        api = self._api_bytes
        if api in body:
            # Nearly every API URL continues with "/": one pass rewrites them all.
            old, new = self._body_pairs[0]
            body = body.replace(old, new)
            if api in body:  # rare: `"...com"`, `...com?`, the very end, or a lookalike host
                for old, new in self._body_pairs[1:]:
                    body = body.replace(old, new)
                if body.endswith(api):
                    body = body[: -len(api)] + self._public_bytes
        if b"\\" in body and self._api_escaped in body:  # one byte: a memchr scan
            for old, new in self._escaped_pairs:
                body = body.replace(old, new)
        return body

    def link(self, value: str) -> str:
        """Rewrite every `<URL>` of a Link header that is under the API base; keep the rest."""

        def replace(match: re.Match[str]) -> str:
            rewritten = self._rewrite(match.group(1).strip())
            return match.group(0) if rewritten is None else f"<{rewritten}>"

        return _LINK_TARGET.sub(replace, value)

    def location(self, value: str) -> str | None:
        """The proxy's URL for a redirect to the API (absolute or relative); None otherwise."""
        return self._rewrite(value.strip())

    def _rewrite(self, url: str) -> str | None:
        rest = self._rest(url)
        return None if rest is None else self.public_base + rest

    def _rest(self, url: str) -> str | None:
        """What follows the API base in `url` ("/repos/a/b?page=2"), or None if not under it."""
        if not _PLAIN_URL.fullmatch(url):
            return None
        if url.startswith("/") and not url.startswith("//"):
            # Origin-relative: resolved against the API host GitHub answered from.
            after_origin = url
        else:
            scheme, sep, remainder = url.partition("://")
            if not sep or scheme.lower() != self._scheme:
                return None
            end = _authority_end(remainder)
            if not self._same_authority(remainder[:end]):
                return None
            after_origin = remainder[end:]
        if not after_origin.startswith(self._prefix):
            return None
        rest = after_origin[len(self._prefix) :]
        if rest and rest[0] not in "/?#":
            return None  # `/api/v3x`: not under the prefix
        if _has_dot_segment(rest):
            # `/api/v3/../../login` leaves the prefix once resolved.
            return None
        return rest

    def _same_authority(self, authority: str) -> bool:
        if "@" in authority:
            return False  # userinfo: `https://api.github.com@evil.test/`
        if authority.startswith("["):  # IPv6 literal: [::1]:8080
            host, _, after = authority[1:].partition("]")
            if after and not after.startswith(":"):
                return False
            port = after[1:]
        else:
            host, _, port = authority.partition(":")
        if port and not port.isdigit():
            return False
        number = int(port) if port else _DEFAULT_PORTS[self._scheme]
        return host.lower() == self._host and number == self._port


def _authority_end(remainder: str) -> int:
    """Index where the authority of `scheme://` + remainder ends."""
    ends = [i for i in (remainder.find(c) for c in "/?#") if i != -1]
    return min(ends, default=len(remainder))


def _has_dot_segment(rest: str) -> bool:
    path = re.split(r"[?#]", rest, maxsplit=1)[0]
    # Decoded, and split again: `%2e%2e` and `a%2F..` hide dot segments from a plain split.
    pieces = (part for piece in path.split("/") for part in unquote(piece).split("/"))
    return any(part in (".", "..") for part in pieces)
