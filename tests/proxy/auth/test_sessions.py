"""Hubbub sessions over HTTP: refusals with reasons, refresh rotation and reuse, logout,
tokens sealed at rest, cookies that never authorise a change alone."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import jwt
import pytest
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.datastructures import Secret

from proxy import Gateway
from shared.identity.session_tokens import AUDIENCE, SessionTokens, new_key_entry
from tests.fakes.github import FakeGitHub
from tests.proxy.auth.conftest import DASHBOARD, HUBBUB, BrowserFactory, SignIn, auth_changes
from tests.proxy.conftest import GatewayFactory

ISSUE = "/api/github/repos/octo/hello/issues/1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def session_of(browser: httpx.AsyncClient, sign_in: SignIn) -> dict:
    await sign_in()
    return (await browser.get("/api/auth/me")).json()


def seed_of(gateway: Gateway) -> tuple[str, bytes]:
    return gateway.settings.session_key_list[0]


def forge(gateway: Gateway, claims: dict, **changes: object) -> str:
    """A token as an attacker (or a misconfigured deployment) might make one."""
    kid, seed = seed_of(gateway)
    key = Ed25519PrivateKey.from_private_bytes(seed)
    now = int(time.time())
    payload = {
        "iss": "hubbub",
        "aud": AUDIENCE,
        "sub": str(claims["sub"]),
        "login": "alice",
        "sid": claims["sid"],
        "iat": now,
        "exp": now + 600,
        "jti": "j",
    }
    payload.update(changes)
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid})


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("expired", "token_expired"),
        ("forged", "invalid_token"),
        ("wrong_audience", "invalid_audience"),
        ("alg_none", "invalid_token"),
        ("unknown_kid", "unknown_key"),
        ("hs256_with_public_key", "invalid_token"),
        ("revoked", "token_revoked"),
        ("garbage", "invalid_token"),
    ],
)
async def test_a_bad_session_token_is_a_401_with_its_reason(
    browser: httpx.AsyncClient,
    sign_in: SignIn,
    auth_gateway: Gateway,
    oauth_github: FakeGitHub,
    case: str,
    code: str,
) -> None:
    session = await session_of(browser, sign_in)
    claims = claims_of(session["token"])
    if case == "expired":
        token = forge(auth_gateway, claims, iat=int(time.time()) - 4000, exp=int(time.time()) - 60)
    elif case == "forged":
        head, _, signature = session["token"].split(".")
        other = forge(auth_gateway, claims, sub="999")
        token = f"{head}.{other.split('.')[1]}.{signature}"
    elif case == "wrong_audience":
        token = forge(auth_gateway, claims, aud="someone-else")
    elif case == "alg_none":
        token = jwt.encode(
            claims, None, algorithm="none", headers={"kid": seed_of(auth_gateway)[0]}
        )
    elif case == "unknown_kid":
        token = jwt.encode(
            claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "other"}
        )
    elif case == "hs256_with_public_key":
        public = Ed25519PrivateKey.from_private_bytes(seed_of(auth_gateway)[1]).public_key()
        raw = public.public_bytes_raw() * 2  # 64 bytes: long enough for PyJWT to sign with
        token = jwt.encode(claims, raw, algorithm="HS256", headers={"kid": "current"})
    elif case == "revoked":
        await browser.post("/api/auth/logout", headers=bearer(session["token"]))
        token = session["token"]
    else:
        header = base64.urlsafe_b64encode(b'{"alg":"EdDSA","kid":"current"}').rstrip(b"=")
        token = header.decode() + ".bm90LWpzb24.c2ln"  # a payload that is not JSON
    upstream_before = len(oauth_github.requests)

    answer = await browser.get(ISSUE, headers=bearer(token))

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == code
    assert len(oauth_github.requests) == upstream_before  # nothing reached GitHub


async def test_rotating_keys_keeps_old_sessions_until_they_expire(
    make_gateway: GatewayFactory, make_browser: BrowserFactory, sign_in: SignIn
) -> None:
    changes = auth_changes()
    before = make_gateway(check_tokens=True, **changes)
    browser = make_browser(before)
    await sign_in(browser)
    old_token = (await browser.get("/api/auth/me")).json()["token"]

    # The next deployment: a new key first, the old one kept for verifying; same Store.
    rotated = str(changes["session_keys"])
    after_changes = {
        **changes,
        "session_keys": Secret(new_key_entry("EdDSA", "next") + "," + rotated),
    }
    after = make_gateway(before.store, check_tokens=True, **after_changes)
    client = make_browser(after)

    still = await client.get(ISSUE, headers=bearer(old_token))
    refreshed = await browser.post("/api/auth/refresh", headers={"Origin": HUBBUB})
    new_token = refreshed.json()["token"]

    assert still.status_code == 200
    assert jwt.get_unverified_header(old_token)["kid"] == "current"
    # Issued by the old deployment still (the browser's client): now issue from the new one.
    fresh = SessionTokens(after.settings).issue(user_id=1, login="a", session_id="s")[0]
    assert jwt.get_unverified_header(fresh)["kid"] == "next"
    assert new_token


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_family(
    browser: httpx.AsyncClient, sign_in: SignIn, make_browser: BrowserFactory, auth_gateway: Gateway
) -> None:
    await sign_in()
    stolen = browser.cookies.get("hubbub_refresh", path="/api/auth")
    api = make_browser(auth_gateway)  # an API client holding a copy of the refresh token

    first = await api.post("/api/auth/refresh", json={"refresh_token": stolen})
    assert first.status_code == 200
    successor = first.json()["refresh_token"]
    assert successor != stolen
    assert (await api.get(ISSUE, headers=bearer(first.json()["token"]))).status_code == 200

    reused = await browser.post("/api/auth/refresh", headers={"Origin": HUBBUB})

    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "refresh_token_reused"
    after = await api.post("/api/auth/refresh", json={"refresh_token": successor})
    assert after.json()["error"]["code"] == "invalid_refresh_token"
    # The whole family is gone: the token issued from the good refresh is refused too.
    refused = await api.get(ISSUE, headers=bearer(first.json()["token"]))
    assert refused.json()["error"]["code"] == "token_revoked"


async def test_of_two_racing_refreshes_with_one_token_one_wins_and_the_family_ends(
    browser: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in()
    token = browser.cookies.get("hubbub_refresh", path="/api/auth")

    answers = await asyncio.gather(
        *(browser.post("/api/auth/refresh", json={"refresh_token": token}) for _ in range(3))
    )

    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 401, 401]
    winner = next(a for a in answers if a.status_code == 200).json()["refresh_token"]
    again = await browser.post("/api/auth/refresh", json={"refresh_token": winner})
    assert again.status_code == 401


async def test_logout_revokes_the_session_and_its_refresh_token(
    browser: httpx.AsyncClient, sign_in: SignIn
) -> None:
    session = await session_of(browser, sign_in)
    refresh = browser.cookies.get("hubbub_refresh", path="/api/auth")

    out = await browser.post("/api/auth/logout", headers=bearer(session["token"]))

    assert out.status_code == 200
    assert (await browser.get(ISSUE, headers=bearer(session["token"]))).status_code == 401
    again = await browser.post("/api/auth/refresh", json={"refresh_token": refresh})
    assert again.json()["error"]["code"] == "invalid_refresh_token"
    assert not browser.cookies.get("hubbub_session")


async def test_github_tokens_are_sealed_at_rest(
    browser: httpx.AsyncClient, sign_in: SignIn, auth_gateway: Gateway, oauth_github: FakeGitHub
) -> None:
    session = await session_of(browser, sign_in)
    github_token = oauth_github.requests[-1].token
    assert github_token is not None
    sid = claims_of(session["token"])["sid"]

    stored = await auth_gateway.store.hgetall(auth_gateway.keys.session(sid))

    assert github_token not in json.dumps(stored)
    with pytest.raises(InvalidToken):
        Fernet(Fernet.generate_key()).decrypt(stored["gh"].encode())
    key = auth_gateway.settings.token_key_list[0]
    assert Fernet(key).decrypt(stored["gh"].encode()).decode() == github_token
    # Refresh tokens are kept only as hashes.
    refresh = browser.cookies.get("hubbub_refresh", path="/api/auth")
    assert refresh.split(".")[1] not in json.dumps(stored)


async def test_a_cookie_alone_reads_but_never_changes_anything(
    browser: httpx.AsyncClient, sign_in: SignIn, oauth_github: FakeGitHub
) -> None:
    session = await session_of(browser, sign_in)

    read = await browser.get(ISSUE)
    write = await browser.patch(ISSUE, json={"title": "by cookie"})
    with_header = await browser.patch(
        ISSUE, json={"title": "by header"}, headers=bearer(session["token"])
    )

    assert read.status_code == 200
    assert write.status_code == 403
    assert write.json()["error"]["code"] == "csrf_refused"
    assert with_header.status_code == 200
    assert oauth_github.count("PATCH", "/repos/octo/hello/issues/1") == 1


@pytest.mark.parametrize("origin", [None, "https://evil.example"])
async def test_refresh_by_cookie_needs_one_of_our_pages(
    browser: httpx.AsyncClient, sign_in: SignIn, origin: str | None
) -> None:
    await sign_in()
    headers = {"Origin": origin} if origin else {}
    refused = await browser.post("/api/auth/refresh", headers=headers)
    allowed = await browser.post("/api/auth/refresh", headers={"Origin": DASHBOARD})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_refused"
    assert allowed.status_code == 200
    assert "refresh_token" not in allowed.json()  # a cookie holder gets it as a cookie


async def test_an_anonymous_caller_never_gets_a_write_through(
    make_gateway: GatewayFactory, make_browser: BrowserFactory, oauth_github: FakeGitHub
) -> None:
    from tests.proxy.conftest import TOKEN_A

    gateway = make_gateway(github_token=Secret(TOKEN_A))  # the server has its own token
    client = make_browser(gateway)

    read = await client.get(ISSUE)
    writes = [
        await client.patch(ISSUE, json={"title": "anonymous"}),
        await client.post("/api/github/repos/octo/hello/issues", json={"title": "x"}),
        await client.post("/api/github/graphql", json={"query": "mutation { x }"}),
    ]

    assert read.status_code == 200
    assert {w.status_code for w in writes} == {401}
    assert {w.json()["error"]["code"] for w in writes} == {"authentication_required"}
    assert oauth_github.count("PATCH") == oauth_github.count("POST") == 0


async def test_a_github_token_passed_through_is_checked_once_then_served_from_cache(
    make_gateway: GatewayFactory, make_browser: BrowserFactory, oauth_github: FakeGitHub
) -> None:
    from tests.proxy.conftest import TOKEN_A, auth

    first = make_gateway(check_tokens=True)
    second = make_gateway(first.store, check_tokens=True)  # another instance, same Store
    for gateway in (first, first, second):
        answer = await make_browser(gateway).get(ISSUE, headers=auth(TOKEN_A))
        assert answer.status_code == 200

    assert oauth_github.count("GET", "/user") == 1
    me = await make_browser(second).get("/api/auth/me", headers=auth(TOKEN_A))
    assert me.json()["user"]["login"] == "alice"
    assert me.json()["kind"] == "github_token"
    assert "token" not in me.json()


async def test_a_token_github_refuses_is_a_401_and_not_asked_about_again(
    make_gateway: GatewayFactory, make_browser: BrowserFactory, oauth_github: FakeGitHub
) -> None:
    client = make_browser(make_gateway(check_tokens=True))
    bogus = "ghp_" + base64.b32encode(b"not a real token!!!!").decode().lower()

    answers = [await client.get(ISSUE, headers={"Authorization": f"token {bogus}"}) for _ in "ab"]

    assert [a.status_code for a in answers] == [401, 401]
    assert answers[0].json()["error"]["code"] == "bad_credentials"
    assert oauth_github.count("GET", "/user") == 1
    assert oauth_github.count("GET", "/repos/octo/hello/issues/1") == 0


async def test_a_refresh_reseals_the_github_token_under_the_new_key(
    make_gateway: GatewayFactory, make_browser: BrowserFactory, sign_in: SignIn
) -> None:
    changes = auth_changes()
    before = make_gateway(check_tokens=True, **changes)
    browser = make_browser(before)
    await sign_in(browser)
    old_key = str(changes["token_keys"])
    new_key = Fernet.generate_key().decode()

    rotating = make_gateway(
        before.store, check_tokens=True, **{**changes, "token_keys": Secret(f"{new_key},{old_key}")}
    )
    refreshed = await make_browser(rotating).post(
        "/api/auth/refresh",
        json={"refresh_token": browser.cookies.get("hubbub_refresh", path="/api/auth")},
    )
    retired = make_gateway(
        before.store, check_tokens=True, **{**changes, "token_keys": Secret(new_key)}
    )
    after = await make_browser(retired).get(ISSUE, headers=bearer(refreshed.json()["token"]))

    assert refreshed.status_code == 200
    assert after.status_code == 200  # the old key is gone and the session still opens


async def test_a_logout_reaches_every_process_that_listens_at_once(
    make_gateway: GatewayFactory,
    make_browser: BrowserFactory,
    make_store,
    sign_in: SignIn,
) -> None:
    from tests.fakes.waiting import wait_until

    changes = auth_changes()
    here = make_gateway(await make_store("native"), check_tokens=True, **changes)
    there = make_gateway(await make_store("native"), check_tokens=True, **changes)
    await there.start()  # hears the invalidation channel, as a persistent machine does
    browser, elsewhere = make_browser(here), make_browser(there)
    await sign_in(browser)
    token = (await browser.get("/api/auth/me")).json()["token"]
    assert (await elsewhere.get(ISSUE, headers=bearer(token))).status_code == 200  # remembered
    sid = claims_of(token)["sid"]

    await browser.post("/api/auth/logout", headers=bearer(token))
    await wait_until(lambda: there.callers.has_ended(sid))

    refused = await elsewhere.get(ISSUE, headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_revoked"
