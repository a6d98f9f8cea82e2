"""The fake GitHub is faithful where the gateway's tests count on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.fakes.github import FakeGitHub
from tests.fakes.serving import serve

ALICE, BOB = "ghp_alice", "ghp_bob"


@pytest.fixture
def fake() -> FakeGitHub:
    github = FakeGitHub(public_origin="https://api.github.com")
    github.add_user(ALICE, "alice")
    github.add_user(BOB, "bob")
    github.add_repo("octo", "hello")
    for number in range(1, 8):
        github.add_issue("octo", "hello", title=f"Issue {number}")
    github.add_repo("octo", "secret", private=True, readers=["alice"])
    return github


@pytest_asyncio.fixture
async def client(fake: FakeGitHub) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url="https://api.github.com"
    ) as http:
        yield http


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


async def test_etags_depend_on_the_token_and_accept(client: httpx.AsyncClient) -> None:
    alice = await client.get("/repos/octo/hello/issues/1", headers=auth(ALICE))
    bob = await client.get("/repos/octo/hello/issues/1", headers=auth(BOB))
    full = await client.get(
        "/repos/octo/hello/issues/1",
        headers={**auth(ALICE), "Accept": "application/vnd.github.full+json"},
    )
    anonymous = await client.get("/repos/octo/hello/issues/1")
    etags = {alice.headers["etag"], bob.headers["etag"], full.headers["etag"]}
    assert len(etags) == 3
    assert anonymous.headers["etag"].startswith('W/"')


async def test_a_304_costs_no_rate_limit(client: httpx.AsyncClient, fake: FakeGitHub) -> None:
    first = await client.get("/repos/octo/hello", headers=auth(ALICE))
    used = fake.rate_limit(ALICE)[2]
    again = await client.get(
        "/repos/octo/hello", headers={**auth(ALICE), "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.headers["x-ratelimit-used"] == str(used)
    assert fake.rate_limit(ALICE)[2] == used


async def test_pagination_yields_every_item_through_repository_id_links(
    client: httpx.AsyncClient,
) -> None:
    url: str | None = "/repos/octo/hello/issues?per_page=3"
    numbers: list[int] = []
    while url:
        page = await client.get(url, headers=auth(ALICE))
        numbers += [issue["number"] for issue in page.json()]
        url = page.links.get("next", {}).get("url")
        assert url is None or "/repositories/" in url
    assert numbers == list(range(1, 8))


async def test_private_repositories_are_404_for_others(client: httpx.AsyncClient) -> None:
    assert (await client.get("/repos/octo/secret", headers=auth(ALICE))).status_code == 200
    assert (await client.get("/repos/octo/secret", headers=auth(BOB))).status_code == 404
    assert (await client.get("/repos/octo/secret")).status_code == 404


async def test_a_patch_changes_the_etag(client: httpx.AsyncClient) -> None:
    before = await client.get("/repos/octo/hello/issues/2", headers=auth(ALICE))
    await client.patch("/repos/octo/hello/issues/2", headers=auth(ALICE), json={"title": "New"})
    after = await client.get("/repos/octo/hello/issues/2", headers=auth(ALICE))
    assert after.json()["title"] == "New"
    assert after.headers["etag"] != before.headers["etag"]


async def test_an_encoded_slash_is_one_segment(client: httpx.AsyncClient) -> None:
    ref = await client.get("/repos/octo/hello/git/ref/heads%2Ffeature-x", headers=auth(ALICE))
    assert ref.json()["ref"] == "refs/heads/feature-x"


async def test_injected_failures(client: httpx.AsyncClient, fake: FakeGitHub) -> None:
    fake.fail_next(1, status=502)
    fake.secondary_limit_next(1, retry_after=30)
    fake.drop_next(1)
    assert (await client.get("/user", headers=auth(ALICE))).status_code == 502
    limited = await client.get("/user", headers=auth(ALICE))
    assert limited.status_code == 403
    assert limited.headers["retry-after"] == "30"
    assert "secondary rate limit" in limited.json()["message"]
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get("/user", headers=auth(ALICE))
    assert (await client.get("/user", headers=auth(ALICE))).json()["login"] == "alice"


async def test_a_spent_budget_is_a_403_with_remaining_zero(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    fake.set_rate_limit(ALICE, remaining=0)
    answer = await client.get("/user", headers=auth(ALICE))
    assert answer.status_code == 403
    assert answer.headers["x-ratelimit-remaining"] == "0"


async def test_held_requests_wait_until_released(
    client: httpx.AsyncClient, fake: FakeGitHub
) -> None:
    fake.hold()
    tasks = [asyncio.create_task(client.get("/user", headers=auth(ALICE))) for _ in range(5)]
    await fake.wait_held(5)
    assert not any(task.done() for task in tasks)
    fake.release()
    assert [answer.status_code for answer in await asyncio.gather(*tasks)] == [200] * 5


async def test_a_dropped_connection_over_real_http(fake: FakeGitHub) -> None:
    async with serve(fake.app) as base, httpx.AsyncClient(base_url=base) as http:
        fake.drop_next(1)
        with pytest.raises(httpx.HTTPError):
            await http.get("/user", headers=auth(ALICE))
        assert (await http.get("/user", headers=auth(ALICE))).status_code == 200


async def test_enterprise_server_paths(fake: FakeGitHub) -> None:
    ghes = FakeGitHub(base_path="/api/v3", public_origin="https://ghe.example.com")
    ghes.add_user(ALICE, "alice")
    async with httpx.AsyncClient(
        transport=ghes.transport(), base_url="https://ghe.example.com"
    ) as http:
        assert (await http.get("/api/v3/user", headers=auth(ALICE))).json()["login"] == "alice"
        graphql = await http.post("/api/graphql", headers=auth(ALICE), json={"query": "{}"})
        assert graphql.json()["data"]["viewer"]["login"] == "alice"
        assert (await http.get("/user", headers=auth(ALICE))).status_code == 404
