"""Sign-in fixtures: a gateway with sign-in configured, a browser-like client of it (cookies,
https), and the fake GitHub's side of the OAuth flow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from cryptography.fernet import Fernet
from starlette.datastructures import Secret

from proxy import Gateway
from shared.identity.session_tokens import new_key_entry
from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import ClientFactory, GatewayFactory

CLIENT_ID = "Iv1.hubbubtest"
CLIENT_SECRET = "oauth-client-secret-0123456789abcdef"
HUBBUB = "https://hubbub.test"
DASHBOARD = "https://dash.example"


def auth_changes(**changes: object) -> dict[str, object]:
    """Settings for a deployment with sign-in: fresh keys every time."""
    return {
        "github_oauth_url": "https://github.com",
        "github_client_id": CLIENT_ID,
        "github_client_secret": Secret(CLIENT_SECRET),
        "session_keys": Secret(new_key_entry("EdDSA", "current")),
        "token_keys": Secret(Fernet.generate_key().decode()),
        "allowed_origins": (DASHBOARD,),
        **changes,
    }


@pytest.fixture
def oauth_github(github: FakeGitHub) -> FakeGitHub:
    github.add_oauth_app(CLIENT_ID, CLIENT_SECRET)
    github.sign_in("alice")
    return github


@pytest_asyncio.fixture
async def auth_gateway(make_gateway: GatewayFactory, oauth_github: FakeGitHub) -> Gateway:
    return make_gateway(check_tokens=True, **auth_changes())


BrowserFactory = Callable[..., httpx.AsyncClient]


@pytest.fixture
def make_browser(make_client: ClientFactory) -> BrowserFactory:
    """A client that keeps cookies, as a browser does, on Hubbub's https origin (Secure
    cookies are only sent over https)."""
    return lambda gateway: make_client(gateway, base_url=HUBBUB)


@pytest.fixture
def browser(make_browser: BrowserFactory, auth_gateway: Gateway) -> httpx.AsyncClient:
    return make_browser(auth_gateway)


async def at_github(github: FakeGitHub, url: str) -> httpx.Response:
    """The browser's visit to GitHub's authorize page (the user approves as `signed_in`)."""
    async with httpx.AsyncClient(transport=github.transport()) as client:
        return await client.get(url)


SignIn = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def sign_in(browser: httpx.AsyncClient, oauth_github: FakeGitHub) -> SignIn:
    """The whole browser flow; returns the callback's answer (a redirect with cookies)."""

    async def flow(client: httpx.AsyncClient = browser, next_url: str | None = None):
        params = {"next": next_url} if next_url else {}
        login = await client.get("/api/auth/login", params=params)
        assert login.status_code == 302, login.text
        approved = await at_github(oauth_github, login.headers["location"])
        assert approved.status_code == 302
        return await client.get(approved.headers["location"])

    return flow


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
