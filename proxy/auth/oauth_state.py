"""Where Authlib keeps an OAuth flow in flight (state, PKCE verifier, redirect URI): the Store.

Authlib's default keeps it in the signed session cookie, where a copy of the cookie can
replay a callback. Here the cookie holds only Authlib's marker (proof the callback comes
from the browser that started the flow) and the data sits in the Store for ten minutes,
taken by the first callback that reads it: of two callbacks with one state, one proceeds.
"""

from __future__ import annotations

from shared.store import Store
from shared.store.keys import Keys
from shared.store.script import load_script

_TAKE = load_script("take")
FLOW_TTL_S = 600  # GitHub's codes live 10 minutes; a flow outliving them is dead anyway


class StoreStateCache:
    """The async cache interface Authlib's Starlette integration calls (get, set, delete)."""

    def __init__(self, store: Store, keys: Keys) -> None:
        self.store = store
        self.keys = keys

    async def get(self, key: str) -> str | None:
        value = await self.store.eval_script(_TAKE, [self.keys.oauth_state(key)], [])
        return value if isinstance(value, str) else None

    async def set(self, key: str, value: str, expires: int | None = None) -> None:
        ttl_s = min(expires or FLOW_TTL_S, FLOW_TTL_S)
        await self.store.set(self.keys.oauth_state(key), value, px=ttl_s * 1000)

    async def delete(self, key: str) -> None:
        await self.store.delete(self.keys.oauth_state(key))
