"""Where a browser may be sent after signing in: a path on this host, or a page on one of
the dashboard origins in HUBBUB_ALLOWED_ORIGINS. Anything else would make the login an
open redirect that hands a phishing page a fresh, real sign-in."""

from __future__ import annotations

from urllib.parse import urlsplit

from shared.config import Settings
from shared.errors import InvalidRequest


def checked_next(value: str | None, settings: Settings) -> str:
    if value is None or value == "":
        return "/"
    refused = InvalidRequest(
        "next must be a path here or a page on HUBBUB_ALLOWED_ORIGINS", code="invalid_next"
    )
    if len(value) > 2000 or any(ord(ch) < 0x21 or ch == "\\" for ch in value):
        raise refused
    if value.startswith("/"):
        # A path on this host; `//host` and `///host` are other hosts to a browser.
        if value.startswith("//"):
            raise refused
        return value
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise refused from None
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if parts.scheme in {"http", "https"} and origin in settings.allowed_origins:
        return value
    raise refused


def trusted_origin(origin: str | None, own_origin: str, settings: Settings) -> bool:
    """For requests a cookie alone would authorise: the page that sent it is ours."""
    if not origin:
        return False
    origin = origin.lower()
    return origin == own_origin.lower() or origin in settings.allowed_origins
