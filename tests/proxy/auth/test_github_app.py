"""A GitHub App installation as the server's identity: one token, shared, until it expires."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.datastructures import Secret

from shared.config import Settings, SettingsError
from tests.fakes.github import FakeGitHub
from tests.proxy.auth.conftest import BrowserFactory
from tests.proxy.conftest import GatewayFactory

ISSUE = "/api/github/repos/octo/hello/issues/1"
MINT = "/app/installations/77/access_tokens"


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def app_changes(github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> dict[str, object]:
    public = app_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    github.add_app("12345", public, 77)
    return {
        "github_app_id": "12345",
        # As a one-line secret store holds it.
        "github_app_private_key": Secret(pem(app_key).replace("\n", "\\n")),
        "github_app_installation_id": "77",
        "token_keys": Secret(Fernet.generate_key().decode()),
    }


async def test_anonymous_callers_read_as_the_installation_sharing_one_token_and_cache(
    make_gateway: GatewayFactory,
    make_browser: BrowserFactory,
    github: FakeGitHub,
    app_changes: dict[str, object],
) -> None:
    first = make_gateway(**app_changes)
    second = make_gateway(first.store, **app_changes)  # another instance, same Store

    answers = [
        await make_browser(first).get(ISSUE),
        await make_browser(first).get(ISSUE),
        await make_browser(second).get(ISSUE),
    ]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert github.count("POST", MINT) == 1
    upstream = [r for r in github.requests if r.path == "/repos/octo/hello/issues/1"]
    assert upstream and all(r.token and r.token.startswith("ghs_") for r in upstream)
    assert answers[1].headers["x-cache"] == answers[2].headers["x-cache"] == "HIT"
    write = await make_browser(first).patch(ISSUE, json={"title": "as the app"})
    assert write.status_code == 401  # anonymous stays read-only


async def test_a_token_is_replaced_a_minute_before_it_expires(
    make_gateway: GatewayFactory,
    make_browser: BrowserFactory,
    github: FakeGitHub,
    app_changes: dict[str, object],
) -> None:
    github.app_token_ttl_s = 50  # inside the last minute from the start
    client = make_browser(make_gateway(**app_changes))
    answers = [await client.get(ISSUE) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert github.count("POST", MINT) == 3
    # Three tokens, one partition: the installation's cache outlives each token.
    assert [a.headers["x-cache"] for a in answers] == ["MISS", "HIT", "HIT"]


async def test_a_wrong_app_key_is_a_clear_502(
    make_gateway: GatewayFactory, make_browser: BrowserFactory, app_changes: dict[str, object]
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    changes = {**app_changes, "github_app_private_key": Secret(pem(other))}
    answer = await make_browser(make_gateway(**changes)).get(ISSUE)
    assert answer.status_code == 502
    assert "GITHUB_APP_PRIVATE_KEY" in answer.json()["error"]["message"]


def test_the_app_settings_go_together() -> None:
    with pytest.raises(SettingsError, match="go together"):
        Settings.from_env({"GITHUB_APP_ID": "1"}, env_file=None)
    with pytest.raises(SettingsError, match="PEM"):
        Settings.from_env(
            {
                "GITHUB_APP_ID": "1",
                "GITHUB_APP_PRIVATE_KEY": "nope",
                "GITHUB_APP_INSTALLATION_ID": "2",
            },
            env_file=None,
        )
