"""GitHub's delivery signature: HMAC-SHA256 of the exact bytes received, and nothing weaker.

The comparison is constant-time and over bytes: `hmac.compare_digest` raises on `str`
holding non-ASCII, which an attacker controls in the header. The legacy SHA-1 header
(`X-Hub-Signature`) is never consulted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

PREFIX = b"sha256="


def sign(body: bytes, secret: bytes) -> str:
    """The header value GitHub would send for `body`; used by `hubbub webhooks send`."""
    return (PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest().encode()).decode()


def matching_secret(body: bytes, header: bytes | None, secrets: Sequence[bytes]) -> int | None:
    """The index of the secret that signed `body`, or None when none did (or no header)."""
    if not header or not header.startswith(PREFIX):
        return None
    matched = None
    for index, secret in enumerate(secrets):
        expected = PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
        # Every secret is tried, so the time taken does not say which one matched.
        if hmac.compare_digest(expected, header.strip()) and matched is None:
            matched = index
    return matched
