"""Hubbub session tokens: short-lived JWTs (PyJWT) naming a GitHub user and a session.

The algorithm is fixed by configuration and every token names its key with `kid`, so keys
rotate without logging anyone out: add the new key first in HUBBUB_SESSION_KEYS, keep the
old one after it until the last token it signed has expired. A token never carries the
GitHub token (a JWS is signed, not encrypted); `sid` points at the session in the Store.

Heavy to import (cryptography): only the resolver and the auth routes load it, on first use.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.config import Settings
from shared.errors import NotAuthenticated

AUDIENCE = "hubbub"
LEEWAY_S = 30
_REQUIRED = ["iss", "aud", "sub", "iat", "exp", "jti", "sid"]


@dataclass(frozen=True)
class SessionClaims:
    user_id: int
    login: str
    session_id: str
    token_id: str
    expires_at: int  # Unix seconds


@dataclass(frozen=True)
class _Key:
    kid: str
    signing: Any  # what jwt.encode takes: bytes (HS256) or an Ed25519 private key
    verifying: Any


class SessionTokens:
    def __init__(self, settings: Settings) -> None:
        self.algorithm = settings.session_algorithm
        self.issuer = settings.session_issuer
        self.ttl_s = settings.session_ttl_s
        self._keys = {kid: self._key(kid, raw) for kid, raw in settings.session_key_list}
        self._signing = next(iter(self._keys.values()), None)
        # PyJWT refuses short HMAC keys instead of only warning about them.
        self._jwt = jwt.PyJWT(options={"enforce_minimum_key_length": True})

    @property
    def enabled(self) -> bool:
        return self._signing is not None

    def _key(self, kid: str, raw: bytes) -> _Key:
        if self.algorithm == "HS256":
            return _Key(kid, raw, raw)
        private = Ed25519PrivateKey.from_private_bytes(raw)
        return _Key(kid, private, private.public_key())

    def issue(self, *, user_id: int, login: str, session_id: str) -> tuple[str, SessionClaims]:
        if self._signing is None:
            raise NotAuthenticated("sign-in is not configured here", code="auth_not_configured")
        now = int(time.time())
        claims = SessionClaims(
            user_id=user_id,
            login=login,
            session_id=session_id,
            token_id=uuid.uuid4().hex,
            expires_at=now + self.ttl_s,
        )
        payload = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "login": login,
            "sid": session_id,
            "iat": now,
            "exp": claims.expires_at,
            "jti": claims.token_id,
        }
        token = self._jwt.encode(
            payload,
            self._signing.signing,
            algorithm=self.algorithm,
            headers={"kid": self._signing.kid},
        )
        return token, claims

    def verify(self, token: str) -> SessionClaims:
        """The claims of a token this deployment signed, still valid; else NotAuthenticated
        with a reason the client can act on (`token_expired` means: refresh)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise NotAuthenticated("malformed session token", code="invalid_token") from None
        # Checked before any key is touched: `none`, and HS256 signed with a public key
        # (algorithm confusion), never reach a verifier.
        if header.get("alg") != self.algorithm:
            raise NotAuthenticated("session token algorithm not accepted", code="invalid_token")
        key = self._keys.get(header.get("kid")) if isinstance(header.get("kid"), str) else None
        if key is None:
            raise NotAuthenticated("session token signed by an unknown key", code="unknown_key")
        try:
            claims = self._jwt.decode(
                token,
                key.verifying,
                algorithms=[self.algorithm],
                audience=AUDIENCE,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated(
                "session token expired; refresh it", code="token_expired"
            ) from None
        except jwt.InvalidAudienceError:
            raise NotAuthenticated(
                "session token is for another audience", code="invalid_audience"
            ) from None
        except jwt.InvalidIssuerError:
            raise NotAuthenticated(
                "session token from another issuer", code="invalid_issuer"
            ) from None
        except jwt.InvalidTokenError:
            raise NotAuthenticated("invalid session token", code="invalid_token") from None
        sub, login, sid = claims.get("sub"), claims.get("login"), claims.get("sid")
        if not (isinstance(sub, str) and sub.isdigit() and isinstance(sid, str)):
            raise NotAuthenticated("invalid session token", code="invalid_token")
        return SessionClaims(
            user_id=int(sub),
            login=login if isinstance(login, str) else "",
            session_id=sid,
            token_id=str(claims["jti"]),
            expires_at=int(claims["exp"]),
        )


def new_key_entry(algorithm: str, kid: str | None = None) -> str:
    """A fresh `kid:base64url` entry for HUBBUB_SESSION_KEYS: an Ed25519 seed or an HS256
    secret, both 32 random bytes."""
    import base64
    import secrets

    kid = kid or time.strftime("k%Y%m%d") + "-" + secrets.token_hex(2)
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    assert algorithm in {"EdDSA", "HS256"}
    return f"{kid}:{key}"
