"""The one resolver: Socket.IO's auth dict and the memo's bounds."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.fernet import Fernet
from starlette.datastructures import Secret

from shared.config import Settings
from shared.errors import NotAuthenticated
from shared.identity import CallerResolver, GitHubUser, Identity
from shared.identity.session_tokens import new_key_entry
from shared.store.embedded import EmbeddedStore
from shared.store.keys import Keys


class Lookup:
    """GitHub's `GET /user`, as the gateway would answer it; counts the questions."""

    def __init__(self) -> None:
        self.asked = 0

    async def __call__(self, identity: Identity) -> GitHubUser | None:
        self.asked += 1
        return GitHubUser(7, "alice") if str(identity.credential) == "ghp_good" else None


@pytest.fixture
def resolver() -> CallerResolver:
    settings = Settings(
        session_keys=Secret(new_key_entry("EdDSA", "k")),
        token_keys=Secret(Fernet.generate_key().decode()),
        github_token=Secret("ghp_server"),
    )
    return CallerResolver(settings, EmbeddedStore(), Keys(), Lookup())


async def test_socketio_auth_carries_a_session_token(resolver: CallerResolver) -> None:
    session, _ = await resolver.sessions.create(user_id=7, login="alice", github_token="gho_x")
    token, _ = resolver.tokens.issue(user_id=7, login="alice", session_id=session.session_id)

    identity = await resolver.resolve_auth({"token": token, "offsets": {}}, client_ip="1.2.3.4")

    assert identity.kind == "session"
    assert (identity.user_id, identity.login) == (7, "alice")
    assert str(identity.credential) == "gho_x"
    assert not identity.via_cookie


@pytest.mark.parametrize("auth", [None, {}, {"token": ""}, "not a dict"])
async def test_socketio_without_a_token_is_anonymous_and_read_only(
    resolver: CallerResolver, auth: object
) -> None:
    identity = await resolver.resolve_auth(auth, client_ip="1.2.3.4")  # type: ignore[arg-type]
    assert identity.is_anonymous
    assert str(identity.credential) == "ghp_server"


@pytest.mark.parametrize("token", [42, "has space", "x" * 5000])
async def test_socketio_with_a_malformed_token_is_refused(
    resolver: CallerResolver, token: object
) -> None:
    with pytest.raises(NotAuthenticated):
        await resolver.resolve_auth({"token": token}, client_ip="1.2.3.4")


async def test_a_github_token_is_asked_about_once_and_limited_per_user(
    resolver: CallerResolver,
) -> None:
    lookup = resolver.lookup
    assert isinstance(lookup, Lookup)
    first = await resolver.resolve_auth({"token": "ghp_good"}, client_ip="1.2.3.4")
    second = await resolver.resolve(authorization="token ghp_good", client_ip="5.6.7.8")
    assert lookup.asked == 1
    assert first.user_id == second.user_id == 7
    assert first.limit_key == second.limit_key  # the user's budget, from any address
    with pytest.raises(NotAuthenticated):
        await resolver.resolve(authorization="Bearer ghp_bad", client_ip="1.2.3.4")


async def test_a_session_cookie_is_marked_as_such(resolver: CallerResolver) -> None:
    session, _ = await resolver.sessions.create(user_id=7, login="alice", github_token="gho_x")
    token, _ = resolver.tokens.issue(user_id=7, login="alice", session_id=session.session_id)
    by_cookie = await resolver.resolve(authorization=None, cookie=token, client_ip="1.2.3.4")
    by_header = await resolver.resolve(authorization=f"Bearer {token}", client_ip="1.2.3.4")
    assert by_cookie.via_cookie and not by_header.via_cookie


async def test_a_logout_while_a_session_is_being_read_is_not_undone(
    resolver: CallerResolver,
) -> None:
    session, _ = await resolver.sessions.create(user_id=7, login="alice", github_token="gho_x")
    token, _ = resolver.tokens.issue(user_id=7, login="alice", session_id=session.session_id)
    store = resolver.sessions.store
    entered, release = asyncio.Event(), asyncio.Event()
    read = store.hgetall

    async def slow_hgetall(key: str) -> dict[str, str]:
        fields = await read(key)  # read before the logout...
        entered.set()
        await release.wait()  # ...and answered after it
        return fields

    resolver.sessions.store = _Patched(store, hgetall=slow_hgetall)
    pending = asyncio.create_task(resolver.resolve_session_token(token))
    async with asyncio.timeout(5):
        await entered.wait()
    resolver.forget_session(session.session_id)  # the logout's local half
    release.set()

    with pytest.raises(NotAuthenticated) as refused:
        await pending
    assert refused.value.code == "token_revoked"


class _Patched:
    def __init__(self, inner: object, **overrides: object) -> None:
        self._inner = inner
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)
