"""GitHub Enterprise Server: REST under /api/v3, GraphQL at /api/graphql, URLs rewritten."""

from __future__ import annotations

import httpx

from proxy import Gateway, create_app
from shared.store.embedded import EmbeddedStore
from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A, auth, gateway_settings

GHES = "https://ghe.example.com/api/v3"
PROXY = "http://hubbub.test/api/github"


async def test_the_gateway_serves_an_enterprise_server_as_it_serves_github() -> None:
    github = FakeGitHub(base_path="/api/v3", public_origin="https://ghe.example.com")
    github.add_user(TOKEN_A, "alice")
    github.add_repo("octo", "hello")
    for number in range(1, 6):
        github.add_issue("octo", "hello", title=f"Issue {number}")
    gateway = Gateway(
        gateway_settings(github_api_url=GHES), EmbeddedStore(), transport=github.transport()
    )
    app = create_app(gateway.settings, gateway=gateway)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hubbub.test"
    ) as client:
        issue = await client.get("/api/github/repos/octo/hello/issues/1", headers=auth(TOKEN_A))
        again = await client.get("/api/github/repos/octo/hello/issues/1", headers=auth(TOKEN_A))
        page = await client.get(
            "/api/github/repos/octo/hello/issues?per_page=2", headers=auth(TOKEN_A)
        )
        graphql = await client.post(
            "/api/github/graphql", headers=auth(TOKEN_A), json={"query": "{ viewer { login } }"}
        )
    await gateway.aclose()

    assert github.requests[0].path == "/api/v3/user"  # the token's one check, on GHES too
    assert github.requests[1].path == "/api/v3/repos/octo/hello/issues/1"
    assert issue.json()["url"] == PROXY + "/repos/octo/hello/issues/1"
    assert issue.json()["html_url"].startswith("https://ghe.example.com/octo/hello")
    assert again.headers["x-cache"] == "HIT"
    assert page.links["next"]["url"].startswith(PROXY + "/repositories/")
    assert graphql.json()["data"]["viewer"]["login"] == "alice"
    assert github.requests[-1].path == "/api/graphql"
