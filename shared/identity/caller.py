"""Who is calling: the GitHub credential to use upstream, the cache partition, the limit key.

The partition and limit key are SHA-256 hashes: a token never becomes part of a key
name, a log line or a metric label.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Literal

from starlette.datastructures import Secret

from shared.errors import NotAuthenticated

# GitHub tokens (classic `ghp_`, fine-grained `github_pat_`, OAuth `gho_`, app `ghs_`/`ghu_`,
# and the 40-hex legacy form) and Hubbub's JWTs are URL-safe; anything else is not a
# credential we pass on.
_TOKEN = re.compile(r"[A-Za-z0-9_\-.]{1,4096}")
_GITHUB_TOKEN = re.compile(r"[A-Za-z0-9_\-.]{1,255}")

Kind = Literal["session", "github_token", "anonymous"]


def digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Identity:
    credential: Secret | None = field(repr=False)
    partition: str  # cache partition: who may see an entry
    limit_key: str  # whose caller budget a request spends
    token_hash: str  # whose GitHub budget (penalty box, concurrency cap) an upstream call spends
    is_anonymous: bool = False
    kind: Kind = "github_token"
    user_id: int | None = None  # GitHub's numeric id: logins can change, ids cannot
    login: str | None = None
    session_id: str | None = None  # the Hubbub session a session token belongs to
    # Came in a cookie: may read, never change anything (the browser sends that cookie
    # along with any site's request; only our own pages can set a header).
    via_cookie: bool = False
    # When the credential stops being accepted (a session token's `exp`, Unix seconds);
    # None for GitHub tokens, which live until revoked. Long-lived sockets watch it.
    expires_at: float | None = None

    @property
    def authorization(self) -> str | None:
        return None if self.credential is None else f"token {self.credential}"


def identity_for_token(
    token: str, *, user_id: int | None = None, login: str | None = None
) -> Identity:
    """A GitHub token's own identity; a known user's limit is theirs across all their tokens."""
    token_hash = digest("token", token)
    return Identity(
        credential=Secret(token),
        partition=token_hash,
        limit_key=digest("user", str(user_id)) if user_id is not None else token_hash,
        token_hash=token_hash,
        user_id=user_id,
        login=login,
    )


def anonymous_identity(client_ip: str, server_token: Secret | None) -> Identity:
    """Anonymous callers share one partition, apart from every token's, and are limited per IP."""
    upstream = digest("token", str(server_token)) if server_token is not None else "none"
    return Identity(
        credential=server_token,
        partition=digest("anonymous", upstream),
        limit_key=digest("ip", client_ip),
        token_hash=upstream if server_token is not None else digest("anonymous-upstream"),
        is_anonymous=True,
        kind="anonymous",
    )


def installation_identity(installation_id: str, token: Secret, client_ip: str) -> Identity:
    """An anonymous caller served as the server's GitHub App installation: every such
    caller shares the installation's partition and budget, and is limited per IP."""
    installation = digest("installation", installation_id)
    return Identity(
        credential=token,
        partition=installation,
        limit_key=digest("ip", client_ip),
        token_hash=installation,
        is_anonymous=True,
        kind="anonymous",
    )


def bearer_token(header: str) -> str:
    """The token of an `Authorization` header (`Bearer x` or `token x`).

    Raises NotAuthenticated when it is not a well-formed credential.
    """
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in {"bearer", "token"} or not _TOKEN.fullmatch(token):
        raise NotAuthenticated(
            "Authorization must be 'Bearer <token>' or 'token <token>'", code="bad_credentials"
        )
    return token


def looks_like_session_token(token: str) -> bool:
    """A JWT (`header.payload.signature`, the header a JSON object); GitHub tokens have no dots."""
    return token.startswith("eyJ") and token.count(".") == 2


def check_github_token(token: str) -> str:
    if not _GITHUB_TOKEN.fullmatch(token):
        raise NotAuthenticated("that is not a GitHub token", code="bad_credentials")
    return token
