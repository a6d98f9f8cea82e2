"""Server-side sessions: who signed in, their GitHub token (sealed), and one refresh family.

A session is one Store hash under a random id. Its refresh token (`{session id}.{secret}`)
rotates on every use; the Store keeps only hashes, the current one and a few retired ones.
Presenting a retired token means two parties hold the family, so the session ends (OAuth
2.0 Security BCP §4.14); logging out ends it the same way. Every session token names its
session (`sid`), so ending a session refuses every token issued for it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.datastructures import Secret

from shared.errors import NotAuthenticated
from shared.identity.token_vault import TokenVault
from shared.store import Store
from shared.store.keys import Keys
from shared.store.script import load_script

_ROTATE = load_script("refresh_rotate")
_SET_IF = load_script("hset_if")
_RETIRED_KEPT = 32
_ID = 16  # random bytes in a session id; the refresh secret has 32


@dataclass(frozen=True)
class Session:
    session_id: str
    user_id: int
    login: str
    github_token: Secret = field(repr=False)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(refresh_token: str) -> tuple[str, str]:
    session_id, sep, secret = refresh_token.partition(".")
    if not sep or not session_id or not secret or len(refresh_token) > 200:
        raise NotAuthenticated("malformed refresh token", code="invalid_refresh_token")
    return session_id, secret


class Sessions:
    def __init__(self, store: Store, keys: Keys, vault: TokenVault, ttl_s: int) -> None:
        self.store = store
        self.keys = keys
        self.vault = vault
        self.ttl_ms = ttl_s * 1000

    async def create(self, *, user_id: int, login: str, github_token: str) -> tuple[Session, str]:
        """A new session and its first refresh token."""
        session_id = secrets.token_urlsafe(_ID)
        secret = secrets.token_urlsafe(32)
        key = self.keys.session(session_id)
        fields = {
            "uid": str(user_id),
            "login": login,
            "gh": self.vault.seal(github_token),
            "rh": _hash(secret),
            "rp": "",
        }
        await self.store.pipeline(
            [
                ("HSET", key, *(item for pair in fields.items() for item in pair)),
                ("PEXPIRE", key, self.ttl_ms),
            ]
        )
        session = Session(session_id, user_id, login, Secret(github_token))
        return session, f"{session_id}.{secret}"

    async def get(self, session_id: str) -> Session | None:
        fields = await self.store.hgetall(self.keys.session(session_id))
        if not fields.get("gh") or not fields.get("uid", "").isdigit():
            return None
        return Session(
            session_id, int(fields["uid"]), fields.get("login", ""), self.vault.open(fields["gh"])
        )

    async def ended(self, session_ids: Sequence[str]) -> set[str]:
        """Which of these sessions no longer exist (logged out, reused, expired): one round
        trip, for holders of long-lived connections who did not hear the announcement."""
        if not session_ids:
            return set()
        found = await self.store.pipeline(
            [("EXISTS", self.keys.session(session_id)) for session_id in session_ids]
        )
        return {sid for sid, exists in zip(session_ids, found, strict=True) if not exists}

    async def rotate(self, refresh_token: str) -> tuple[Session, str]:
        """Exchange a refresh token for its successor, atomically: of two racing uses of one
        token, one rotates and the other revokes the family."""
        session_id, secret = _split(refresh_token)
        successor = secrets.token_urlsafe(32)
        reply = await self.store.eval_script(
            _ROTATE,
            [self.keys.session(session_id)],
            [_hash(secret), _hash(successor), self.ttl_ms, _RETIRED_KEPT],
        )
        outcome = reply[0] if isinstance(reply, list) and reply else "unknown"
        if outcome == "reused":
            raise NotAuthenticated(
                "refresh token already used; the session is revoked, sign in again",
                code="refresh_token_reused",
            )
        if outcome != "ok":
            raise NotAuthenticated(
                "refresh token not recognised; sign in again", code="invalid_refresh_token"
            )
        _, user_id, login, sealed = reply
        session = Session(session_id, int(user_id), login or "", self.vault.open(sealed))
        if not self.vault.is_current(sealed):
            # Sealed under a key being retired: re-seal under the current one, so an active
            # session survives the old key's removal (unless it changed hands meanwhile).
            await self.store.eval_script(
                _SET_IF,
                [self.keys.session(session_id)],
                ["rh", _hash(successor), "gh", self.vault.rotate(sealed)],
            )
        return session, f"{session_id}.{successor}"

    async def revoke(self, session_id: str) -> bool:
        return await self.store.delete(self.keys.session(session_id)) > 0

    async def revoke_by_refresh(self, refresh_token: str) -> bool:
        """Log out with a refresh token: only its current holder may."""
        session_id, secret = _split(refresh_token)
        fields = await self.store.hgetall(self.keys.session(session_id))
        current = fields.get("rh", "")
        if not current or not hmac.compare_digest(current, _hash(secret)):
            raise NotAuthenticated(
                "refresh token not recognised; sign in again", code="invalid_refresh_token"
            )
        return await self.revoke(session_id)
