"""The serverless app's HTTP surface: errors as JSON, batch, GraphQL, bounded bodies."""

from __future__ import annotations

import httpx
import pytest

from proxy import Gateway
from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A, ClientFactory, auth


@pytest.mark.parametrize(
    ("method", "url", "status", "code"),
    [
        ("GET", "/api/nothing-here", 404, "not_found"),
        ("GET", "/api/github/batch", 405, "method_not_allowed"),
        ("GET", "/api/github/graphql", 405, "method_not_allowed"),
        ("OPTIONS", "/api/github/user", 405, "method_not_allowed"),
    ],
)
async def test_unknown_routes_and_methods_are_json_errors(
    client: httpx.AsyncClient, github: FakeGitHub, method: str, url: str, status: int, code: str
) -> None:
    answer = await client.request(method, url, headers=auth(TOKEN_A))
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert github.count() == 0


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "token", "Bearer a b", "token ghp_\u00e9", "Bearer <script>"]
)
async def test_a_malformed_credential_is_a_401(
    client: httpx.AsyncClient, github: FakeGitHub, header: str
) -> None:
    answer = await client.get("/api/github/user", headers={"Authorization": header.encode("utf-8")})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "bad_credentials"
    assert github.count() == 0


async def test_an_oversized_body_is_a_413_and_reaches_nobody(
    make_client: ClientFactory, github: FakeGitHub
) -> None:
    client = make_client(max_request_body_bytes=1000)
    answer = await client.post(
        "/api/github/repos/octo/hello/issues", headers=auth(TOKEN_A), content=b"x" * 2000
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"
    assert github.count() == 0


async def test_an_unexpected_failure_is_a_500_without_a_trace(
    make_gateway, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway: Gateway = make_gateway()

    async def broken(request: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(gateway, "_handle", broken)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(
            app=__import__("proxy").create_app(gateway.settings, gateway=gateway),
            raise_app_exceptions=False,
        ),
        base_url="http://hubbub.test",
    )
    answer = await client.get("/api/github/user", headers={**auth(TOKEN_A), "X-Request-Id": "r-1"})
    await client.aclose()
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"
    assert "secret internals" not in answer.text and "Traceback" not in answer.text
    assert answer.headers["x-request-id"] == "r-1"


async def test_a_batch_answers_every_read_each_with_its_own_status(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    answer = await client.post(
        "/api/github/batch",
        headers=auth(TOKEN_A),
        json={
            "requests": [
                {"path": "/repos/octo/hello/issues/1"},
                {"path": "/repos/octo/hello/issues?per_page=2"},
                {"path": "/repos/octo/nope"},
                {"path": "/repos/a%2F..%2F..%2Fuser"},
                {
                    "path": "/repos/octo/hello/issues/2",
                    "headers": {"Accept": "application/vnd.github.full+json"},
                },
            ]
        },
    )
    assert answer.status_code == 200
    results = answer.json()["responses"]
    assert [result["status"] for result in results] == [200, 200, 404, 400, 200]
    assert results[0]["body"]["number"] == 1
    assert results[0]["body"]["url"] == "http://hubbub.test/api/github/repos/octo/hello/issues/1"
    assert len(results[1]["body"]) == 2
    assert results[1]["headers"]["link"].startswith("<http://hubbub.test/api/github/")
    assert results[3]["body"]["error"]["code"] == "path_rejected"
    assert "body_html" in results[4]["body"]
    assert results[0]["headers"]["x-cache"] == "MISS"
    again = await client.post(
        "/api/github/batch",
        headers=auth(TOKEN_A),
        json={"requests": [{"path": "/repos/octo/hello/issues/1"}]},
    )
    assert again.json()["responses"][0]["headers"]["x-cache"] == "HIT"
    assert github.count("GET", "/user") == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"requests": []}',
        b'{"requests": "x"}',
        b'{"requests": [' + b",".join([b'{"path": "/user"}'] * 21) + b"]}",
    ],
)
async def test_a_malformed_batch_is_a_400_and_reaches_nobody(
    client: httpx.AsyncClient, github: FakeGitHub, body: bytes
) -> None:
    answer = await client.post("/api/github/batch", headers=auth(TOKEN_A), content=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_body"
    assert github.count() == 0


async def test_batch_items_reject_absolute_urls(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    answer = await client.post(
        "/api/github/batch",
        headers=auth(TOKEN_A),
        json={"requests": [{"path": "https://evil.example/x"}, {"path": "//evil.example/x"}]},
    )
    assert [result["status"] for result in answer.json()["responses"]] == [400, 400]
    assert github.count() == 0


@pytest.mark.parametrize("body", [b"nope", b"{}", b'{"query": 5}'])
async def test_a_malformed_graphql_body_is_a_400(
    client: httpx.AsyncClient, github: FakeGitHub, body: bytes
) -> None:
    answer = await client.post("/api/github/graphql", headers=auth(TOKEN_A), content=body)
    assert answer.status_code == 400
    assert github.count() == 0


async def test_anonymous_callers_use_the_server_token_when_one_is_set(
    make_client: ClientFactory, github: FakeGitHub
) -> None:
    from starlette.datastructures import Secret

    client = make_client(github_token=Secret(TOKEN_A))
    answer = await client.get("/api/github/user")
    assert answer.json()["login"] == "alice"
    assert github.requests[-1].token == TOKEN_A


@pytest.mark.parametrize("path", ["/repos", "/repos/octo", "/orgs/octo"])
async def test_paths_short_of_a_repository_pass_through(
    client: httpx.AsyncClient, github: FakeGitHub, path: str
) -> None:
    # GitHub has no such endpoints: its 404 comes back, not an error of ours.
    answer = await client.get(f"/api/github{path}", headers=auth(TOKEN_A))
    assert answer.status_code == 404
    assert github.count() == 1
