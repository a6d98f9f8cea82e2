"""The GitHub sign-in flow end to end: state, PKCE, the session it yields, and `next`."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

import httpx
import pytest

from proxy import Gateway
from shared.logging import quiet_libraries
from tests.fakes.github import FakeGitHub
from tests.proxy.auth.conftest import (
    DASHBOARD,
    HUBBUB,
    BrowserFactory,
    SignIn,
    at_github,
    query_of,
)
from tests.proxy.conftest import GatewayFactory


async def test_signing_in_yields_a_session_that_acts_as_the_user_on_github(
    browser: httpx.AsyncClient, oauth_github: FakeGitHub
) -> None:
    login = await browser.get("/api/auth/login", params={"next": "/dashboard"})
    authorize = query_of(login.headers["location"])
    assert login.headers["location"].startswith("https://github.com/login/oauth/authorize?")
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["redirect_uri"] == HUBBUB + "/api/auth/callback"
    assert len(authorize["state"]) >= 20

    approved = await at_github(oauth_github, login.headers["location"])
    callback = await browser.get(approved.headers["location"])

    assert callback.status_code == 302
    assert callback.headers["location"] == "/dashboard"
    exchange = oauth_github.requests[-2]  # the code exchange, then GET /user
    assert exchange.path == "/login/oauth/access_token"
    assert b"code_verifier=" in exchange.body  # PKCE: the verifier behind the challenge
    github_token = oauth_github.requests[-1].token
    assert github_token is not None and github_token.startswith("gho_")

    me = await browser.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["login"] == "alice"
    assert me.json()["kind"] == "session"
    session_token = me.json()["token"]
    assert github_token not in session_token  # a JWT is signed, not encrypted

    user = await browser.get(
        "/api/github/user", headers={"Authorization": f"Bearer {session_token}"}
    )
    assert user.status_code == 200
    assert user.json()["login"] == "alice"
    # GitHub saw alice's own token, never Hubbub's session token.
    assert {r.token for r in oauth_github.requests if r.path == "/user"} == {github_token}


async def test_a_replayed_callback_fails(
    browser: httpx.AsyncClient, oauth_github: FakeGitHub, sign_in: SignIn
) -> None:
    login = await browser.get("/api/auth/login")
    approved = await at_github(oauth_github, login.headers["location"])
    first = await browser.get(approved.headers["location"])
    assert first.status_code == 302
    exchanges = oauth_github.count("POST", "/login/oauth/access_token")

    replayed = await browser.get(approved.headers["location"])

    assert replayed.status_code == 400
    assert replayed.json()["error"]["code"] == "oauth_failed"
    assert oauth_github.count("POST", "/login/oauth/access_token") == exchanges


async def test_a_forged_state_or_a_callback_in_another_browser_fails(
    make_browser: BrowserFactory, auth_gateway: Gateway, oauth_github: FakeGitHub
) -> None:
    victim, attacker = make_browser(auth_gateway), make_browser(auth_gateway)
    login = await victim.get("/api/auth/login")
    approved = await at_github(oauth_github, login.headers["location"])
    code = query_of(approved.headers["location"])["code"]

    forged = await victim.get("/api/auth/callback", params={"code": code, "state": "x" * 30})
    elsewhere = await attacker.get(approved.headers["location"])

    assert forged.status_code == elsewhere.status_code == 400
    assert forged.json()["error"]["code"] == elsewhere.json()["error"]["code"] == "oauth_failed"
    assert oauth_github.count("POST", "/login/oauth/access_token") == 0


async def test_of_two_racing_callbacks_with_one_state_one_signs_in(
    browser: httpx.AsyncClient, oauth_github: FakeGitHub
) -> None:
    login = await browser.get("/api/auth/login")
    approved = await at_github(oauth_github, login.headers["location"])

    answers = await asyncio.gather(*(browser.get(approved.headers["location"]) for _ in range(4)))

    assert sorted(a.status_code for a in answers) == [302, 400, 400, 400]
    assert oauth_github.count("POST", "/login/oauth/access_token") == 1


async def test_a_wrong_pkce_verifier_is_refused_by_github(oauth_github: FakeGitHub) -> None:
    """The fake checks PKCE as GitHub does, so the flow above proves the verifier matched."""
    async with httpx.AsyncClient(transport=oauth_github.transport()) as client:
        url = (
            "https://github.com/login/oauth/authorize?client_id=Iv1.hubbubtest&state=s"
            "&redirect_uri=https://hubbub.test/cb&code_challenge=abc&code_challenge_method=S256"
        )
        code = query_of((await client.get(url)).headers["location"])["code"]
        answer = await client.post(
            "https://github.com/login/oauth/access_token",
            data={
                "client_id": "Iv1.hubbubtest",
                "client_secret": "oauth-client-secret-0123456789abcdef",
                "code": code,
                "code_verifier": "not-the-one",
            },
            headers={"Accept": "application/json"},
        )
    assert answer.json() == {"error": "bad_verification_code"}


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/x",
        "///evil.example/x",
        "javascript:alert(1)",
        "/\\evil.example",
        "https://[x",
        "https://dash.example.evil.example/",
        "https://dash.example@evil.example/",
    ],
)
async def test_next_must_be_here_or_an_allowed_dashboard(
    browser: httpx.AsyncClient, next_url: str
) -> None:
    answer = await browser.get("/api/auth/login", params={"next": next_url})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_next"


async def test_an_allowed_dashboard_gets_the_browser_back(sign_in: SignIn) -> None:
    callback = await sign_in(next_url=DASHBOARD + "/issues?x=1")
    assert callback.headers["location"] == DASHBOARD + "/issues?x=1"


async def test_cookies_are_httponly_secure_and_lax(sign_in: SignIn) -> None:
    callback = await sign_in()
    cookies = {
        header.split("=", 1)[0]: header.lower()
        for header in callback.headers.get_list("set-cookie")
    }
    for name in ("hubbub_session", "hubbub_refresh"):
        assert "httponly" in cookies[name]
        assert "secure" in cookies[name]
        assert "samesite=lax" in cookies[name]
    assert "path=/api/auth" in cookies["hubbub_refresh"]


async def test_a_user_who_denies_access_gets_a_clear_error(browser: httpx.AsyncClient) -> None:
    login = await browser.get("/api/auth/login")
    state = query_of(login.headers["location"])["state"]
    denied = await browser.get(
        "/api/auth/callback", params={"error": "access_denied", "state": state}
    )
    assert denied.status_code == 400
    assert "access_denied" in denied.json()["error"]["message"]


async def test_without_sign_in_configured_the_routes_say_so(
    make_gateway: GatewayFactory, make_browser: BrowserFactory
) -> None:
    browser = make_browser(make_gateway())
    answer = await browser.get("/api/auth/login")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "auth_not_configured"


async def test_no_code_token_or_state_reaches_a_log_line(
    browser: httpx.AsyncClient,
    oauth_github: FakeGitHub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_libraries()  # as every entry point configures logging
    caplog.set_level(logging.DEBUG)  # Hubbub's own loggers at their most talkative
    login = await browser.get("/api/auth/login")
    approved = await at_github(oauth_github, login.headers["location"])
    await browser.get(approved.headers["location"])
    me = (await browser.get("/api/auth/me")).json()
    refreshed = await browser.post("/api/auth/refresh", headers={"Origin": HUBBUB})
    await browser.get(approved.headers["location"])  # a replay, refused

    exchange = next(r for r in oauth_github.requests if r.path == "/login/oauth/access_token")
    secrets = {
        parse_qs(exchange.body.decode())["code_verifier"][0],  # Authlib logs it at DEBUG
        query_of(approved.headers["location"])["code"],
        query_of(approved.headers["location"])["state"],
        me["token"],
        refreshed.json()["token"],
        oauth_github.requests[-1].token or "missing",
        "oauth-client-secret-0123456789abcdef",
        *(c.value for c in browser.cookies.jar),
    }
    logged = "\n".join(
        [record.getMessage() for record in caplog.records]
        + [str(record.__dict__) for record in caplog.records]
    )
    assert caplog.records  # something was logged, so the check means something
    for secret in secrets:
        assert secret not in logged


async def test_an_allowed_dashboard_may_call_across_origins_with_credentials(
    browser: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in()
    preflight = await browser.options(
        "/api/github/repos/octo/hello/issues/1",
        headers={
            "Origin": DASHBOARD,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    me = await browser.get("/api/auth/me", headers={"Origin": DASHBOARD})
    issue = await browser.get(
        "/api/github/repos/octo/hello/issues/1", headers={"Origin": DASHBOARD}
    )
    stranger = await browser.options(
        "/api/auth/me",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == DASHBOARD
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert me.headers["access-control-allow-origin"] == DASHBOARD
    assert "x-cache" in issue.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in stranger.headers


async def test_sign_in_attempts_spend_the_address_budget(
    make_gateway: GatewayFactory, make_browser: BrowserFactory, oauth_github: FakeGitHub
) -> None:
    from tests.proxy.auth.conftest import auth_changes

    browser = make_browser(make_gateway(check_tokens=True, **auth_changes(anonymous_limit=3)))
    answers = [await browser.get("/api/auth/login") for _ in range(5)]
    assert [a.status_code for a in answers] == [302, 302, 302, 429, 429]
    assert "retry-after" in answers[-1].headers


async def test_an_error_parameter_is_shown_only_as_a_code(browser: httpx.AsyncClient) -> None:
    login = await browser.get("/api/auth/login")
    state = query_of(login.headers["location"])["state"]
    answer = await browser.get(
        "/api/auth/callback", params={"error": "<script>" + "x" * 5000, "state": state}
    )
    assert answer.status_code == 400
    assert "script" not in answer.text
    assert len(answer.text) < 300
