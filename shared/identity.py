"""Who is calling: the GitHub credential to use upstream, the cache partition, the limit key.

The partition and limit key are SHA-256 hashes: a token never becomes part of a key
name, a log line or a metric label.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from starlette.datastructures import Secret

from shared.errors import NotAuthenticated

# GitHub tokens (classic `ghp_`, fine-grained `github_pat_`, OAuth `gho_`, app `ghs_`/`ghu_`,
# and the 40-hex legacy form) are URL-safe; anything else is not a credential we pass on.
_TOKEN = re.compile(r"[A-Za-z0-9_\-.]{1,255}")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Identity:
    credential: Secret | None = field(repr=False)
    partition: str  # cache partition: who may see an entry
    limit_key: str  # whose caller budget a request spends
    token_hash: str  # whose GitHub budget (penalty box, concurrency cap) an upstream call spends
    is_anonymous: bool = False

    @property
    def authorization(self) -> str | None:
        return None if self.credential is None else f"token {self.credential}"


def identity_for_token(token: str) -> Identity:
    token_hash = _digest("token", token)
    return Identity(
        credential=Secret(token),
        partition=token_hash,
        limit_key=token_hash,
        token_hash=token_hash,
    )


def anonymous_identity(client_ip: str, server_token: Secret | None) -> Identity:
    """Anonymous callers share one partition, apart from every token's, and are limited per IP."""
    upstream = _digest("token", str(server_token)) if server_token is not None else "none"
    return Identity(
        credential=server_token,
        partition=_digest("anonymous", upstream),
        limit_key=_digest("ip", client_ip),
        token_hash=upstream if server_token is not None else _digest("anonymous-upstream"),
        is_anonymous=True,
    )


def resolve_authorization(
    header: str | None, *, client_ip: str, server_token: Secret | None
) -> Identity:
    """From an `Authorization` header (`Bearer x` or `token x`) to an identity.

    Raises NotAuthenticated when a header is present but is not a well-formed credential.
    """
    if header is None or header.strip() == "":
        return anonymous_identity(client_ip, server_token)
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in {"bearer", "token"} or not _TOKEN.fullmatch(token):
        raise NotAuthenticated(
            "Authorization must be 'Bearer <token>' or 'token <token>'", code="bad_credentials"
        )
    return identity_for_token(token)
