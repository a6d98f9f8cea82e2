"""A GitHub App installation as the server's own identity.

Installation tokens live an hour. One is minted with a short RS256 JWT signed by the
App's private key, then shared: kept in process memory and (sealed, when
HUBBUB_TOKEN_KEYS is set) in the Store until a minute before it expires, so every
instance of the fleet uses the same token, and every caller served as the installation
shares one cache partition (GitHub scopes ETags to the token that fetched them, so one
shared token is also what makes revalidation free across callers).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Protocol

from starlette.datastructures import Secret

from shared.config import Settings
from shared.errors import NotAuthenticated
from shared.identity.token_vault import TokenVault
from shared.store import Store
from shared.store.keys import Keys

EARLY_S = 60  # a token is replaced this long before GitHub's `expires_at`
_JWT_BACKDATE_S = 60  # GitHub's advice against clock drift
_JWT_LIFETIME_S = 540  # under GitHub's 10-minute cap


class InstallationMint(Protocol):
    async def __call__(self, app_jwt: str, installation_id: str) -> tuple[str, float]:
        """`POST /app/installations/{id}/access_tokens`: (token, expires_at Unix seconds)."""
        ...


class InstallationTokens:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        keys: Keys,
        vault: TokenVault,
        mint: InstallationMint,
    ) -> None:
        assert settings.github_app_id is not None
        assert settings.github_app_installation_id is not None
        self.app_id = settings.github_app_id
        self.installation_id = settings.github_app_installation_id
        self._private_key = settings.app_private_key
        self.store = store
        self.key = keys.app_token(self.installation_id)
        self.vault = vault
        self.mint = mint
        self._current: tuple[Secret, float] | None = None
        self._lock = asyncio.Lock()

    def app_jwt(self) -> str:
        import jwt

        now = int(time.time())
        claims = {"iat": now - _JWT_BACKDATE_S, "exp": now + _JWT_LIFETIME_S, "iss": self.app_id}
        return jwt.encode(claims, self._private_key, algorithm="RS256")

    async def token(self) -> Secret:
        current = self._fresh(self._current)
        if current is not None:
            return current
        # One mint at a time in this process; the Store shares the result with the others.
        async with self._lock:
            current = self._fresh(self._current) or await self._stored()
            if current is None:
                token, expires_at = await self.mint(self.app_jwt(), self.installation_id)
                self._current = (Secret(token), expires_at)
                await self._store(token, expires_at)
            return self._current[0] if current is None else current

    def _fresh(self, item: tuple[Secret, float] | None) -> Secret | None:
        if item is None or item[1] - EARLY_S <= time.time():
            return None
        return item[0]

    async def _stored(self) -> Secret | None:
        if not self.vault.enabled:
            return None
        raw = await self.store.get(self.key)
        try:
            record = json.loads(raw) if raw else None
            item = (self.vault.open(record["sealed"]), float(record["expires_at"]))
        except (ValueError, KeyError, TypeError, NotAuthenticated):
            return None
        fresh = self._fresh(item)
        if fresh is not None:
            self._current = item
        return fresh

    async def _store(self, token: str, expires_at: float) -> None:
        ttl_ms = int((expires_at - EARLY_S - time.time()) * 1000)
        if not self.vault.enabled or ttl_ms <= 0:
            return  # never at rest unsealed
        record = {"sealed": self.vault.seal(token), "expires_at": expires_at}
        await self.store.set(self.key, json.dumps(record), px=ttl_ms)
