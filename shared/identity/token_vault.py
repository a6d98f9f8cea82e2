"""GitHub tokens at rest: sealed with Fernet (AES-128-CBC + HMAC-SHA256) before they reach
the Store, under a key list so keys rotate (`cryptography`'s MultiFernet: the first key
seals, every key opens; `rotate` re-seals under the first).

Someone who reads Redis, or a backup of it, holds nothing usable without HUBBUB_TOKEN_KEYS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import Secret

from shared.errors import NotAuthenticated

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet


class TokenVault:
    def __init__(self, keys: list[bytes]) -> None:
        self._keys = keys
        self._multi: MultiFernet | None = None

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    @property
    def _fernet(self) -> MultiFernet | None:
        # Built on first use: cryptography costs a serverless cold start tens of ms, and
        # most requests never open a session.
        if self._multi is None and self._keys:
            from cryptography.fernet import Fernet, MultiFernet

            self._multi = MultiFernet([Fernet(key) for key in self._keys])
        return self._multi

    def seal(self, token: str) -> str:
        if self._fernet is None:
            raise NotAuthenticated("sign-in is not configured here", code="auth_not_configured")
        return self._fernet.encrypt(token.encode()).decode()

    def open(self, sealed: str) -> Secret:
        """The token, or NotAuthenticated when no configured key opens it (a retired key):
        the user signs in again rather than the request failing obscurely."""
        if self._fernet is None:
            raise NotAuthenticated("sign-in is not configured here", code="auth_not_configured")
        from cryptography.fernet import InvalidToken

        try:
            return Secret(self._fernet.decrypt(sealed.encode()).decode())
        except InvalidToken:
            raise NotAuthenticated(
                "session can no longer be opened; sign in again", code="session_unreadable"
            ) from None

    def is_current(self, sealed: str) -> bool:
        """Sealed under the first key (nothing to re-seal)?"""
        from cryptography.fernet import Fernet, InvalidToken

        try:
            Fernet(self._keys[0]).decrypt(sealed.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, sealed: str) -> str:
        """Re-sealed under the current key (a no-op on what it already seals)."""
        fernet = self._fernet
        assert fernet is not None
        return fernet.rotate(sealed.encode()).decode()
