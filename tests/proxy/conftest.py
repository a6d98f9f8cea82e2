"""Gateway fixtures: a fake GitHub reached in process, and proxies built on any Store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import pytest_asyncio

import proxy.clock
from proxy import Gateway, create_app
from shared.config import Settings
from shared.identity import GitHubUser
from shared.store import Store
from shared.store.embedded import EmbeddedStore
from tests.fakes.github import FakeGitHub

TOKEN_A = "ghp_aliceAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
TOKEN_B = "ghp_bobBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
API = "https://api.github.com"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


def gateway_settings(**changes: object) -> Settings:
    """Test settings: no backoff or write spacing to wait out, quick upstream timeouts."""
    base = Settings(
        github_api_url=API,
        retry_backoff_ms=0,
        write_spacing_ms=0,
        upstream_timeout_s=3.0,
        flight_lease_ms=5000,
    )
    return base.replace(**changes)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A wall clock the test moves by hand; the cache reads it for ages and freshness."""
    now = [1_800_000_000_000]
    monkeypatch.setattr(proxy.clock, "now_ms", lambda: now[0])
    return now


@pytest.fixture
def github() -> FakeGitHub:
    fake = FakeGitHub(public_origin=API)
    fake.add_user(TOKEN_A, "alice")
    fake.add_user(TOKEN_B, "bob")
    # Both may push: the gateway's write tests edit issues as either.
    fake.add_repo("octo", "hello", writers=["alice", "bob"])
    for number in range(1, 76):
        fake.add_issue("octo", "hello", title=f"Issue {number}", body=f"Body of {number}")
    fake.add_repo("octo", "secret", private=True, readers=["alice"])
    fake.add_issue("octo", "secret", title="Private plans", body="only alice may read this")
    return fake


GatewayFactory = Callable[..., Gateway]


@pytest_asyncio.fixture
async def make_gateway(github: FakeGitHub) -> AsyncIterator[GatewayFactory]:
    """Builds gateways on a given store (default: a fresh embedded one) against the fake."""
    built: list[Gateway] = []

    def make(
        store: Store | None = None, *, check_tokens: bool = False, **changes: object
    ) -> Gateway:
        """`check_tokens=False` (most tests): the fake's tokens count as already checked,
        so a test of another stage sees no `GET /user` of the identity step."""
        gateway = Gateway(
            gateway_settings(**changes),
            store or EmbeddedStore(),
            transport=github.transport(),
        )
        if not check_tokens:
            for token, (login, user_id) in github.tokens().items():
                gateway.callers.remember(token, GitHubUser(user_id, login))
        built.append(gateway)
        return gateway

    yield make
    for gateway in built:
        await gateway.aclose()


ClientFactory = Callable[..., httpx.AsyncClient]


@pytest_asyncio.fixture
async def make_client(make_gateway: GatewayFactory) -> AsyncIterator[ClientFactory]:
    """HTTP clients of the serverless app, each over its own gateway unless one is given."""
    clients: list[httpx.AsyncClient] = []

    def make(
        gateway: Gateway | None = None, *, base_url: str = "http://hubbub.test", **changes: object
    ) -> httpx.AsyncClient:
        gateway = gateway or make_gateway(**changes)
        app = create_app(gateway.settings, gateway=gateway)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client: ClientFactory) -> httpx.AsyncClient:
    return make_client()
