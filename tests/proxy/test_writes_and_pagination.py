"""Writes pass through and invalidate; pagination and hypermedia stay on the proxy."""

from __future__ import annotations

import httpx

from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A, auth

PROXY = "http://hubbub.test/api/github"


async def test_a_write_passes_through_and_marks_the_issue_and_its_lists_stale(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    issue = "/api/github/repos/octo/hello/issues/1"
    listing = "/api/github/repos/octo/hello/issues?per_page=5&direction=asc"
    await client.get(issue, headers=auth(TOKEN_A))
    await client.get(listing, headers=auth(TOKEN_A))

    patched = await client.patch(issue, headers=auth(TOKEN_A), json={"title": "Edited"})
    assert patched.status_code == 200
    assert patched.headers["x-cache"] == "BYPASS"
    assert github.requests[-1].body and b"Edited" in github.requests[-1].body

    after = await client.get(issue, headers=auth(TOKEN_A))
    listed = await client.get(listing, headers=auth(TOKEN_A))
    assert after.headers["x-cache"] == "MISS"
    assert after.json()["title"] == "Edited"
    assert listed.headers["x-cache"] in ("MISS", "REVALIDATED")
    assert "Edited" in [item["title"] for item in listed.json()]


async def test_a_created_issue_is_returned_with_201(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    created = await client.post(
        "/api/github/repos/octo/hello/issues", headers=auth(TOKEN_A), json={"title": "New one"}
    )
    assert created.status_code == 201
    assert created.json()["url"].startswith(PROXY + "/repos/octo/hello/issues/")


async def test_paginating_through_the_proxy_yields_every_item_and_stays_on_it(
    client: httpx.AsyncClient,
) -> None:
    url: str | None = "/api/github/repos/octo/hello/issues?per_page=10&state=all"
    titles: list[str] = []
    links: list[str] = []
    while url is not None:
        page = await client.get(url, headers=auth(TOKEN_A))
        assert page.status_code == 200
        titles += [item["title"] for item in page.json()]
        links.append(page.headers.get("link", ""))
        url = page.links.get("next", {}).get("url")

    assert sorted(titles) == sorted(f"Issue {n}" for n in range(1, 76))
    targets = [part.split(">")[0].lstrip(" <") for link in links for part in link.split(",")]
    assert targets and all(target.startswith(PROXY + "/") for target in targets if target)
    assert any("/repositories/" in target for target in targets)


async def test_api_urls_in_bodies_point_at_the_proxy_and_web_urls_do_not(
    client: httpx.AsyncClient,
) -> None:
    issue = (
        await client.get("/api/github/repos/octo/hello/issues/1", headers=auth(TOKEN_A))
    ).json()
    assert issue["url"] == PROXY + "/repos/octo/hello/issues/1"
    assert issue["repository_url"] == PROXY + "/repos/octo/hello"
    assert issue["html_url"].startswith("https://github.com/")
    # Hits are rewritten the same way.
    hit = await client.get("/api/github/repos/octo/hello/issues/1", headers=auth(TOKEN_A))
    assert hit.headers["x-cache"] == "HIT"
    assert hit.json()["url"] == issue["url"]


async def test_hubbub_public_url_sets_the_rewritten_origin(make_client, github: FakeGitHub) -> None:
    client = make_client(public_url="https://hubbub.example.com")
    issue = (
        await client.get("/api/github/repos/octo/hello/issues/1", headers=auth(TOKEN_A))
    ).json()
    assert issue["url"] == "https://hubbub.example.com/api/github/repos/octo/hello/issues/1"


async def test_a_same_host_redirect_is_rewritten_to_the_proxy(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    github.rename_repo("octo", "hello", "hello-renamed")
    moved = await client.get("/api/github/repos/octo/hello", headers=auth(TOKEN_A))
    assert moved.status_code == 301
    assert moved.headers["location"].startswith(PROXY + "/repositories/")
    followed = await client.get(moved.headers["location"], headers=auth(TOKEN_A))
    assert followed.json()["name"] == "hello-renamed"


async def test_an_encoded_slash_reaches_github_verbatim(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    answer = await client.get(
        "/api/github/repos/octo/hello/git/ref/heads%2Ffeature-x", headers=auth(TOKEN_A)
    )
    assert github.requests[-1].path == "/repos/octo/hello/git/ref/heads%2Ffeature-x"
    assert answer.status_code in (200, 404)


async def test_headers_toward_github_are_ours_and_the_callers_secrets_are_not(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    await client.get(
        "/api/github/repos/octo/hello",
        headers={
            **auth(TOKEN_A),
            "Cookie": "session=secret",
            "X-Forwarded-For": "10.0.0.1",
            "Forwarded": "for=10.0.0.1",
            "Connection": "keep-alive, X-Private",
            "X-Private": "1",
        },
    )
    sent = github.requests[-1].headers
    assert sent["user-agent"].startswith("hubbub/")
    assert sent["x-github-api-version"] == "2022-11-28"
    assert sent["authorization"] == f"token {TOKEN_A}"
    for name in ("cookie", "x-forwarded-for", "forwarded", "x-private"):
        assert name not in sent


async def test_a_redirect_to_another_host_is_refused(make_client) -> None:
    from proxy import Gateway
    from shared.store.embedded import EmbeddedStore
    from tests.proxy.conftest import gateway_settings

    def off_host(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "https://evil.example/steal"})

    gateway = Gateway(gateway_settings(), EmbeddedStore(), transport=httpx.MockTransport(off_host))
    answer = await make_client(gateway).get("/api/github/repos/octo/hello", headers=auth(TOKEN_A))
    await gateway.aclose()
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "redirect_refused"
    assert "evil.example" not in answer.headers.get("location", "")


async def test_forwarded_host_is_used_only_behind_a_trusted_proxy(
    make_client, github: FakeGitHub
) -> None:
    forwarded = {
        **auth(TOKEN_A),
        "X-Forwarded-Host": "hubbub.example.com",
        "X-Forwarded-Proto": "https",
    }
    trusting = make_client(trust_proxy_headers=True)
    wary = make_client()
    issue = "/api/github/repos/octo/hello/issues/1"
    behind = (await trusting.get(issue, headers=forwarded)).json()
    direct = (await wary.get(issue, headers=forwarded)).json()
    assert behind["url"] == "https://hubbub.example.com/api/github/repos/octo/hello/issues/1"
    assert direct["url"] == PROXY + "/repos/octo/hello/issues/1"
