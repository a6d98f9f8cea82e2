"""The fake GitHub is faithful where the gateway's tests count on it.

The gateway's tests prove behaviour by counting at the fake, so a fake that sends the wrong
ETag, charges a 304, or loses an item between pages would make them prove nothing. These
tests pin those promises down, in process and (for dropped connections) over real HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.fakes.github import FakeGitHub
from tests.fakes.serving import serve

API = "https://api.github.com"
ALICE, BOB = "ghp_alice", "ghp_bob"
ISSUE = "/repos/octo/hello/issues/1"


def auth(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"token {token}", **headers}


@pytest.fixture
def fake() -> FakeGitHub:
    github = FakeGitHub(public_origin=API)
    github.add_user(ALICE, "alice")
    github.add_user(BOB, "bob")
    github.add_repo("octo", "hello", repo_id=4242, writers=["alice"])
    for number in range(1, 8):
        github.add_issue("octo", "hello", title=f"Issue {number}", body=f"Body {number}")
    github.add_repo("octo", "secret", private=True, readers=["alice"])
    github.add_issue("octo", "secret", title="Plans")
    return github


@pytest_asyncio.fixture
async def client(fake: FakeGitHub) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url=API) as http:
        yield http


async def test_etags_differ_per_token_and_per_accept_and_are_weak_for_anonymous(
    client: httpx.AsyncClient,
) -> None:
    alice = await client.get(ISSUE, headers=auth(ALICE))
    again = await client.get(ISSUE, headers=auth(ALICE))
    bob = await client.get(ISSUE, headers=auth(BOB))
    full = await client.get(ISSUE, headers=auth(ALICE, Accept="application/vnd.github.full+json"))
    anonymous = await client.get(ISSUE)

    assert alice.headers["etag"] == again.headers["etag"]
    assert alice.headers["etag"].startswith('"')
    etags = {alice.headers["etag"], bob.headers["etag"], full.headers["etag"]}
    assert len(etags) == 3
    assert anonymous.headers["etag"].startswith('W/"')
    assert alice.headers["cache-control"] == "private, max-age=60, s-maxage=60"
    assert anonymous.headers["cache-control"] == "public, max-age=60, s-maxage=60"
    assert "last-modified" in alice.headers


async def test_a_matching_if_none_match_is_a_304_that_costs_nothing(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    first = await client.get(ISSUE, headers=auth(ALICE))
    spent = fake.rate_limit(ALICE)
    etag = first.headers["etag"]
    validators = [etag, f"W/{etag}", f'"other", {etag}', "*"]
    for validator in validators:
        again = await client.get(ISSUE, headers=auth(ALICE, **{"If-None-Match": validator}))
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == first.headers["etag"]
        assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]
        assert again.headers["x-ratelimit-used"] == first.headers["x-ratelimit-used"]
    assert fake.rate_limit(ALICE) == spent
    stale = await client.get(ISSUE, headers=auth(ALICE, **{"If-None-Match": '"stale"'}))
    assert stale.status_code == 200
    assert fake.rate_limit(ALICE) == (5000, spent[1] - 1, spent[2] + 1)
    assert [request.status for request in fake.requests] == [200, 304, 304, 304, 304, 200]


async def test_pagination_follows_link_to_every_item_in_the_repository_id_form(
    client: httpx.AsyncClient,
) -> None:
    url: str | None = "/repos/octo/hello/issues?per_page=3&state=all"
    numbers: list[int] = []
    pages: list[httpx.Response] = []
    while url is not None:
        page = await client.get(url, headers=auth(ALICE))
        pages.append(page)
        numbers += [issue["number"] for issue in page.json()]
        url = page.links.get("next", {}).get("url")

    assert sorted(numbers) == list(range(1, 8))
    assert len(pages) == 3
    assert pages[1].request.url == f"{API}/repositories/4242/issues?per_page=3&state=all&page=2"
    assert list(pages[1].links) == ["prev", "next", "last", "first"]
    assert (
        pages[1]
        .links["last"]["url"]
        .endswith("/repositories/4242/issues?per_page=3&state=all&page=3")
    )
    assert list(pages[2].links) == ["prev", "first"]


async def test_a_spent_budget_is_a_403_and_each_resource_has_its_own(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    fake.set_rate_limit(ALICE, remaining=0, reset=2_000_000_000)
    spent = await client.get("/user", headers=auth(ALICE))
    search = await client.get("/search/issues?q=repo:octo/hello+Issue+3", headers=auth(ALICE))
    table = await client.get("/rate_limit", headers=auth(ALICE))

    assert spent.status_code == 403
    assert spent.headers["x-ratelimit-remaining"] == "0"
    assert spent.headers["x-ratelimit-reset"] == "2000000000"
    assert spent.json()["message"].startswith("API rate limit exceeded for user ID")
    assert search.status_code == 200
    assert search.json()["total_count"] == 1
    assert search.headers["x-ratelimit-resource"] == "search"
    assert search.headers["x-ratelimit-limit"] == "30"
    assert table.status_code == 200  # /rate_limit answers, and costs nothing
    assert table.json()["resources"]["search"]["used"] == 1
    assert fake.rate_limit(ALICE) == (5000, 0, 5000)
    assert fake.rate_limit(None) == (60, 60, 0)


async def test_secondary_limits_are_injected_with_and_without_retry_after(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    fake.secondary_limit_next(1, retry_after=30)
    fake.secondary_limit_next(1, retry_after=None, status=429, path="/repos/octo/hello")
    limited = await client.get("/user", headers=auth(ALICE))
    elsewhere = await client.get("/user", headers=auth(ALICE))
    too_many = await client.get("/repos/octo/hello", headers=auth(ALICE))

    assert limited.status_code == 403
    assert limited.headers["retry-after"] == "30"
    assert "exceeded a secondary rate limit" in limited.json()["message"]
    assert limited.headers["x-ratelimit-remaining"] != "0"
    assert elsewhere.status_code == 200
    assert too_many.status_code == 429
    assert "retry-after" not in too_many.headers


async def test_fail_next_answers_server_errors_then_recovers(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    fake.fail_next(2, status=502)
    fake.fail_next(1, status=503, path=ISSUE)
    statuses = [(await client.get(ISSUE, headers=auth(ALICE))).status_code for _ in range(4)]
    failed = await client.get("/user", headers=auth(ALICE))

    assert statuses == [502, 502, 503, 200]
    assert failed.status_code == 200
    fake.fail_next()
    broken = await client.get(ISSUE, headers=auth(ALICE))
    assert broken.status_code == 500
    assert broken.json()["message"] == "Internal Server Error"
    assert fake.count("GET", ISSUE) == 5


async def test_held_requests_wait_until_released(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    fake.hold(ISSUE)
    tasks = [asyncio.create_task(client.get(ISSUE, headers=auth(ALICE))) for _ in range(5)]
    await fake.wait_held(5)
    unheld = await client.get("/user", headers=auth(ALICE))  # another path goes straight on

    assert fake.held == 5
    assert fake.count("GET", ISSUE) == 5  # recorded before being held
    assert not any(task.done() for task in tasks)
    assert unheld.status_code == 200
    fake.release()
    answers = await asyncio.gather(*tasks)
    assert [answer.status_code for answer in answers] == [200] * 5
    assert fake.held == 0
    assert (await client.get(ISSUE, headers=auth(ALICE))).status_code == 200  # not held now


async def test_wait_held_fails_clearly_when_too_few_arrive(fake: FakeGitHub) -> None:
    fake.hold()
    with pytest.raises(TimeoutError, match="0 of 1 requests held"):
        await fake.wait_held(1, timeout=0.01)


async def test_a_private_repository_is_404_for_everyone_but_its_readers(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    repo_id = fake.repos["octo/secret"].id
    for path in ("/repos/octo/secret", "/repos/octo/secret/issues", f"/repositories/{repo_id}"):
        assert (await client.get(path, headers=auth(ALICE))).status_code == 200
        assert (await client.get(path, headers=auth(BOB))).status_code == 404
        hidden = await client.get(path)
        assert hidden.status_code == 404
        assert hidden.json()["message"] == "Not Found"


async def test_a_patch_changes_the_issue_its_etag_and_its_last_modified(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    before = await client.get(ISSUE, headers=auth(ALICE))
    patched = await client.patch(
        ISSUE, headers=auth(ALICE), json={"title": "New", "state": "closed", "labels": ["bug"]}
    )
    after = await client.get(
        ISSUE, headers=auth(ALICE, **{"If-None-Match": before.headers["etag"]})
    )

    assert patched.status_code == 200
    assert fake.requests[-2].json() == {"title": "New", "state": "closed", "labels": ["bug"]}
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert after.headers["last-modified"] != before.headers["last-modified"]
    issue = after.json()
    assert (issue["title"], issue["state"]) == ("New", "closed")
    assert [label["name"] for label in issue["labels"]] == ["bug"]
    assert issue["updated_at"] > before.json()["updated_at"]
    labels = await client.get("/repos/octo/hello/labels", headers=auth(ALICE))
    assert [label["name"] for label in labels.json()] == ["bug"]


async def test_writes_create_issues_and_comments(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    created = await client.post(
        "/repos/octo/hello/issues", headers=auth(BOB), json={"title": "Hi", "body": "there"}
    )
    number = created.json()["number"]
    comment = await client.post(
        f"/repos/octo/hello/issues/{number}/comments", headers=auth(ALICE), json={"body": "ok"}
    )
    comments = await client.get(f"/repos/octo/hello/issues/{number}/comments")
    anonymous = await client.post("/repos/octo/hello/issues", json={"title": "no"})
    untitled = await client.post("/repos/octo/hello/issues", headers=auth(BOB), json={})

    assert created.status_code == 201
    assert number == 8
    assert created.headers["location"] == f"{API}/repos/octo/hello/issues/8"
    assert created.json()["user"]["login"] == "bob"
    assert comment.status_code == 201
    assert [each["body"] for each in comments.json()] == ["ok"]
    assert anonymous.status_code == 401
    assert untitled.status_code == 422
    assert fake.count("POST", "/repos/octo/hello/issues") == 3


async def test_a_ref_with_an_encoded_slash_is_one_segment(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    ref = await client.get("/repos/octo/hello/git/ref/heads%2Ffeature-x", headers=auth(ALICE))
    decoded = await client.get("/repos/octo/hello/git/ref/heads/feature-x", headers=auth(ALICE))

    assert ref.status_code == 200
    assert ref.json()["ref"] == "refs/heads/feature-x"
    assert ref.json()["object"]["sha"] == "b" * 40
    assert fake.requests[0].path == "/repos/octo/hello/git/ref/heads%2Ffeature-x"
    assert decoded.status_code == 404


async def test_github_answers_for_credentials_methods_versions_and_media_types(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    bad = await client.get("/user", headers=auth("ghp_nobody"))
    bearer = await client.get("/user", headers={"Authorization": f"Bearer {BOB}"})
    wrong_method = await client.delete("/user", headers=auth(ALICE))
    unknown = await client.get("/nothing/here", headers=auth(ALICE))
    old = await client.get("/user", headers=auth(ALICE, **{"X-GitHub-Api-Version": "1999-01-01"}))
    newer = await client.get("/user", headers=auth(ALICE, **{"X-GitHub-Api-Version": "2026-03-10"}))
    text = await client.get(ISSUE, headers=auth(ALICE, Accept="application/vnd.github.text+json"))
    full = await client.get(ISSUE, headers=auth(ALICE, Accept="application/vnd.github.full+json"))

    assert bad.status_code == 401
    assert bad.json()["message"] == "Bad credentials"
    assert fake.requests[0].token == "ghp_nobody"
    assert bearer.json()["login"] == "bob"
    assert wrong_method.status_code == unknown.status_code == 404
    assert old.status_code == 400
    assert newer.headers["x-github-api-version-selected"] == "2026-03-10"
    assert bearer.headers["x-github-api-version-selected"] == "2022-11-28"
    assert "body" not in text.json()
    assert text.json()["body_text"] == "Body 1"
    assert text.headers["x-github-media-type"] == "github.v3; param=text; format=json"
    assert {"body", "body_text", "body_html"} <= set(full.json())
    for answer in (bad, bearer, wrong_method, old):
        assert answer.headers["content-type"] == "application/json; charset=utf-8"
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-github-request-id"} <= set(
            answer.headers
        )


async def test_a_renamed_repository_redirects_to_its_id(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    fake.rename_repo("octo", "hello", "hello-renamed")
    moved = await client.get("/repos/octo/hello/issues?state=all", headers=auth(ALICE))

    assert moved.status_code == 301
    assert moved.headers["location"] == f"{API}/repositories/4242/issues?state=all"
    followed = await client.get(moved.headers["location"], headers=auth(ALICE))
    assert followed.json()[0]["repository_url"] == f"{API}/repos/octo/hello-renamed"


async def test_enterprise_server_lives_under_api_v3_with_graphql_beside_it() -> None:
    ghes = FakeGitHub(base_path="/api/v3", public_origin="https://ghe.example.com")
    ghes.add_user(ALICE, "alice")
    ghes.add_repo("octo", "hello", repo_id=7)
    for number in range(1, 4):
        ghes.add_issue("octo", "hello", title=f"Issue {number}")
    transport = httpx.ASGITransport(app=ghes.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://ghe.example.com") as http:
        user = await http.get("/api/v3/user", headers=auth(ALICE))
        graphql = await http.post("/api/graphql", headers=auth(ALICE), json={"query": "{}"})
        outside = await http.get("/user", headers=auth(ALICE))
        page = await http.get("/api/v3/repos/octo/hello/issues?per_page=2", headers=auth(ALICE))

    assert user.json()["login"] == "alice"
    assert graphql.json() == {"data": {"viewer": {"login": "alice"}}}
    assert graphql.headers["x-ratelimit-resource"] == "graphql"
    assert outside.status_code == 404
    assert (
        page.links["next"]["url"]
        == "https://ghe.example.com/api/v3/repositories/7/issues?per_page=2&page=2"
    )
    assert page.json()[0]["url"] == "https://ghe.example.com/api/v3/repos/octo/hello/issues/3"
    assert ghes.count("GET", "/api/v3/user") == ghes.count("GET", "/user") - 1 == 1


async def test_a_dropped_connection_in_process_is_a_protocol_error(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    fake.drop_next(1)
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get("/user", headers=auth(ALICE))
    assert (await client.get("/user", headers=auth(ALICE))).status_code == 200
    assert [request.status for request in fake.requests] == [None, 200]


async def test_a_dropped_connection_over_real_http_sends_nothing(fake: FakeGitHub) -> None:
    async with serve(fake.app) as base, httpx.AsyncClient(base_url=base) as http:
        fake.public_origin = base
        fake.drop_next(1, path="/user")
        with pytest.raises(httpx.RemoteProtocolError):
            # Streaming, so a status line sent before the cut would show: none is.
            async with http.stream("GET", "/user", headers=auth(ALICE)):
                pass
        answer = await http.get("/user", headers=auth(ALICE))

    assert answer.status_code == 200
    assert answer.json()["url"] == f"{base}/users/alice"
    assert [request.status for request in fake.requests] == [None, 200]


async def test_editing_an_issue_needs_push_access_except_for_its_own_title_and_body(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    refused = await client.patch(ISSUE, headers=auth(BOB), json={"title": "Mine"})
    assert refused.status_code == 403
    own = fake.add_issue("octo", "hello", title="Bob's", author="bob")
    path = f"/repos/octo/hello/issues/{own['number']}"
    assert (await client.patch(path, headers=auth(BOB), json={"body": "edited"})).status_code == 200
    labels = await client.patch(path, headers=auth(BOB), json={"labels": ["bug"]})
    assert labels.status_code == 403


async def test_an_edit_validates_like_github_and_keeps_assignees_who_can_be_assigned(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    too_long = await client.patch(ISSUE, headers=auth(ALICE), json={"title": "x" * 257})
    assert too_long.status_code == 422
    assert too_long.json()["errors"] == [{"resource": "Issue", "field": "title", "code": "invalid"}]
    unknown = await client.patch(ISSUE, headers=auth(ALICE), json={"milestone": 9})
    assert unknown.status_code == 422
    fake.add_milestone("octo", "hello", 9, "v9")
    edited = await client.patch(
        ISSUE, headers=auth(ALICE), json={"milestone": 9, "assignees": ["alice", "stranger"]}
    )
    assert edited.status_code == 200
    issue = edited.json()
    assert issue["milestone"]["number"] == 9
    assert [a["login"] for a in issue["assignees"]] == ["alice"]
