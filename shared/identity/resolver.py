"""One way every layer turns a credential into an Identity: the HTTP proxy (Authorization
header or session cookie), Socket.IO (`auth` dict) and MCP (bearer token).

    Hubbub session token (JWT) → verified → its session → the user's sealed GitHub token
    GitHub token passed through → checked once with `GET /user`, remembered for minutes
    nothing                    → anonymous, read-only: the server's GitHub App installation
                                 or GITHUB_TOKEN, if either is configured

Both kinds are memoised in process, so a warm request costs no Store round trip: a
session token for at most RECHECK_S before its session is read again (that is how long a
logout elsewhere takes to reach this process), a checked GitHub token for
HUBBUB_TOKEN_CHECK_TTL_S.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from shared.config import Settings
from shared.errors import NotAuthenticated
from shared.identity.app_tokens import InstallationMint, InstallationTokens
from shared.identity.caller import (
    Identity,
    anonymous_identity,
    bearer_token,
    check_github_token,
    digest,
    identity_for_token,
    installation_identity,
    looks_like_session_token,
)
from shared.identity.sessions import Session, Sessions
from shared.identity.token_vault import TokenVault
from shared.store import Store
from shared.store.keys import Keys

if TYPE_CHECKING:
    from shared.identity.session_tokens import SessionTokens

RECHECK_S = 1.0
REFUSED_TTL_S = 60  # a token GitHub refused is not asked about again for this long
_MEMO_MAX = 10_000
SESSION_COOKIE = "hubbub_session"


@dataclass(frozen=True)
class GitHubUser:
    """Who GitHub says a token belongs to; `user_id` is None for tokens that are not a
    user's (an App installation's `ghs_`), which GitHub answers `GET /user` with 403."""

    user_id: int | None
    login: str | None


class UserLookup(Protocol):
    async def __call__(self, identity: Identity) -> GitHubUser | None:
        """`GET /user` for this identity: the user, or None when GitHub refuses the token."""
        ...


class _Memo:
    """A bounded LRU of (deadline, value) by key; in-process, so it holds no secret the
    process did not already hold."""

    def __init__(self, size: int = _MEMO_MAX) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str) -> tuple[float, Any] | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: str, deadline: float, value: Any) -> None:
        self._items[key] = (deadline, value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def drop_where(self, predicate: Any) -> None:
        for key in [k for k, (_, value) in self._items.items() if predicate(value)]:
            del self._items[key]


class CallerResolver:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        keys: Keys,
        lookup: UserLookup,
        mint: InstallationMint | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.keys = keys
        self.lookup = lookup
        self.vault = TokenVault(settings.token_key_list)
        self.sessions = Sessions(store, keys, self.vault, settings.refresh_ttl_s)
        self.installation = (
            InstallationTokens(settings, store, keys, self.vault, mint)
            if settings.app_enabled and mint is not None
            else None
        )
        self._tokens: SessionTokens | None = None
        self._session_memo = _Memo()  # session token -> (recheck at, (Identity, exp))
        self._revoked = _Memo()  # session id -> (until, None): ended here, never memoise it
        self._github_memo = _Memo()  # GitHub token -> (until, Identity | None if refused)

    @property
    def tokens(self) -> SessionTokens:
        # Imported on first use: PyJWT and cryptography cost a cold start ~180 ms, and a
        # serverless instance that only ever sees GitHub tokens never needs them.
        if self._tokens is None:
            from shared.identity.session_tokens import SessionTokens

            self._tokens = SessionTokens(self.settings)
        return self._tokens

    @property
    def sessions_enabled(self) -> bool:
        return bool(self.settings.session_key_list) and self.vault.enabled

    # --- entry points ------------------------------------------------------------------

    async def resolve(
        self, *, authorization: str | None, cookie: str | None = None, client_ip: str
    ) -> Identity:
        """From an HTTP request's `Authorization` header, else its session cookie."""
        if authorization is not None and authorization.strip():
            return await self.resolve_token(bearer_token(authorization), client_ip=client_ip)
        if cookie:
            identity = await self.resolve_session_token(cookie)
            return dataclasses.replace(identity, via_cookie=True)
        return await self.anonymous(client_ip)

    async def resolve_auth(self, auth: Mapping[str, Any] | None, *, client_ip: str) -> Identity:
        """From a Socket.IO `auth` dict (`{"token": ...}`); no token is anonymous."""
        token = auth.get("token") if isinstance(auth, Mapping) else None
        if token is None or token == "":
            return await self.anonymous(client_ip)
        if not isinstance(token, str):
            raise NotAuthenticated("auth.token must be a string", code="bad_credentials")
        return await self.resolve_token(bearer_token(f"Bearer {token}"), client_ip=client_ip)

    async def anonymous(self, client_ip: str) -> Identity:
        """No credential: the server's GitHub App installation if configured, else
        GITHUB_TOKEN, else nothing; read-only either way."""
        if self.installation is None:
            return anonymous_identity(client_ip, self.settings.github_token)
        token = await self.installation.token()
        return installation_identity(self.installation.installation_id, token, client_ip)

    def remembered(self, authorization: str | None, client_ip: str) -> Identity | None:
        """The identity for a header this process has resolved moments ago, without awaiting
        anything; None whenever the full `resolve` is needed (first sight, a recheck due,
        an expired or refused token, a malformed header). The fast path for hits uses it."""
        if authorization is None or not authorization.strip():
            if self.installation is not None:
                return None  # the installation token may need minting
            return anonymous_identity(client_ip, self.settings.github_token)
        try:
            token = bearer_token(authorization)
        except NotAuthenticated:
            return None
        now = time.time()
        if looks_like_session_token(token):
            memo = self._session_memo.get(token)
            if memo is None:
                return None
            recheck_at, (identity, expires_at) = memo
            return identity if now < recheck_at and now <= expires_at + 30 else None
        memo = self._github_memo.get(token)
        return memo[1] if memo is not None and now < memo[0] else None

    async def resolve_token(self, token: str, *, client_ip: str) -> Identity:
        if looks_like_session_token(token):
            return await self.resolve_session_token(token)
        return await self.resolve_github_token(check_github_token(token), client_ip=client_ip)

    # --- Hubbub session tokens ---------------------------------------------------------

    async def resolve_session_token(self, token: str) -> Identity:
        if not self.sessions_enabled:
            raise NotAuthenticated(
                "session tokens are not accepted here (no HUBBUB_SESSION_KEYS)",
                code="auth_not_configured",
            )
        now = time.time()
        memo = self._session_memo.get(token)
        if memo is not None:
            recheck_at, (identity, expires_at) = memo
            if now > expires_at + 30:
                raise NotAuthenticated("session token expired; refresh it", code="token_expired")
            if now < recheck_at:
                return identity
        claims = self.tokens.verify(token)
        session = await self.sessions.get(claims.session_id)
        # Checked after the read: a logout here while the read was in flight wins.
        revoked = self._revoked.get(claims.session_id)
        if (
            session is None
            or session.user_id != claims.user_id
            or (revoked is not None and now < revoked[0])
        ):
            raise NotAuthenticated("session has ended; sign in again", code="token_revoked")
        identity = dataclasses.replace(session_identity(session), expires_at=claims.expires_at)
        self._session_memo.put(token, now + RECHECK_S, (identity, claims.expires_at))
        return identity

    def has_ended(self, session_id: str) -> bool:
        """Whether this process heard, moments ago, that the session ended (a logout or a
        reused refresh token, here or on another machine)."""
        revoked = self._revoked.get(session_id)
        return revoked is not None and time.time() < revoked[0]

    def forget_session(self, session_id: str) -> None:
        """Stop honouring a revoked session's tokens in this process at once."""
        self._revoked.put(session_id, time.time() + RECHECK_S * 10, None)
        self._session_memo.drop_where(lambda value: value[0].session_id == session_id)

    # --- GitHub tokens passed through --------------------------------------------------

    def remember(self, token: str, user: GitHubUser) -> None:
        """Record, in this process, a check already made (the OAuth callback has just read
        `GET /user` with this token)."""
        deadline = time.time() + self.settings.token_check_ttl_s
        self._github_memo.put(token, deadline, _identity_of(token, user))

    async def resolve_github_token(self, token: str, *, client_ip: str) -> Identity:
        # The warm path: one dict lookup, no hashing (a polling dashboard's every request).
        now = time.time()
        memo = self._github_memo.get(token)
        if memo is not None and now < memo[0]:
            identity = memo[1]
        else:
            identity = await self._check(token, client_ip, now)
        if identity is None:
            raise NotAuthenticated("GitHub does not accept this token", code="bad_credentials")
        return identity

    async def _check(self, token: str, client_ip: str, now: float) -> Identity | None:
        token_hash = digest("token", token)
        key = self.keys.checked_token(token_hash)
        stored = _parse_user(await self.store.get(key))
        if stored is not None:
            user, ttl_s = stored
        else:
            # Until GitHub has vouched for it, the check spends the caller's address's
            # budget, so a stream of made-up tokens cannot spend unlimited upstream calls.
            unchecked = dataclasses.replace(
                identity_for_token(token), limit_key=digest("ip", client_ip)
            )
            user = await self.lookup(unchecked)
            ttl_s = self.settings.token_check_ttl_s if user is not None else REFUSED_TTL_S
            record = {"refused": True} if user is None else dataclasses.asdict(user)
            await self.store.set(key, json.dumps(record), px=ttl_s * 1000)
        identity = None if user is None else _identity_of(token, user)
        self._github_memo.put(token, now + ttl_s, identity)
        return identity


def _identity_of(token: str, user: GitHubUser) -> Identity:
    return identity_for_token(token, user_id=user.user_id, login=user.login)


def session_identity(session: Session) -> Identity:
    token = str(session.github_token)
    token_hash = digest("token", token)
    return Identity(
        credential=session.github_token,
        partition=token_hash,
        limit_key=digest("user", str(session.user_id)),
        token_hash=token_hash,
        kind="session",
        user_id=session.user_id,
        login=session.login,
        session_id=session.session_id,
    )


def _parse_user(raw: str | None) -> tuple[GitHubUser | None, int] | None:
    """A stored check: (user or None if refused, seconds to remember it here), or None."""
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    if record.get("refused"):
        return None, REFUSED_TTL_S
    user_id, login = record.get("user_id"), record.get("login")
    if user_id is not None and not isinstance(user_id, int):
        return None
    return GitHubUser(user_id, login if isinstance(login, str) else None), 60
