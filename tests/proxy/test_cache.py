"""The shared cache: fresh hits, free revalidation, partitions and representations."""

from __future__ import annotations

import httpx

from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A, TOKEN_B, ClientFactory, auth

ISSUE = "/api/github/repos/octo/hello/issues/1"


async def test_reads_inside_the_fresh_window_make_no_upstream_call(
    client: httpx.AsyncClient, github: FakeGitHub, clock: list[int]
) -> None:
    first = await client.get(ISSUE, headers=auth(TOKEN_A))
    clock[0] += 30_000
    second = await client.get(ISSUE, headers=auth(TOKEN_A))

    assert first.headers["x-cache"] == "MISS"
    assert second.headers["x-cache"] == "HIT"
    assert second.headers["age"] == "30"
    assert second.json() == first.json()
    assert github.count("GET", "/repos/octo/hello/issues/1") == 1


async def test_after_the_window_github_is_asked_conditionally_and_a_304_costs_nothing(
    client: httpx.AsyncClient, github: FakeGitHub, clock: list[int]
) -> None:
    first = await client.get(ISSUE, headers=auth(TOKEN_A))
    used_before = github.rate_limit(TOKEN_A)[2]
    clock[0] += 61_000
    second = await client.get(ISSUE, headers=auth(TOKEN_A))

    assert second.headers["x-cache"] == "REVALIDATED"
    assert second.json() == first.json()
    assert github.requests[-1].headers["if-none-match"] == first.headers["etag"]
    assert github.requests[-1].status == 304
    assert github.rate_limit(TOKEN_A)[2] == used_before
    # The 304 re-stamped the entry: fresh again for another window.
    clock[0] += 30_000
    third = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert third.headers["x-cache"] == "HIT"
    assert github.count("GET", "/repos/octo/hello/issues/1") == 2


async def test_a_fresh_window_of_zero_revalidates_every_read(
    make_client: ClientFactory, github: FakeGitHub
) -> None:
    client = make_client(cache_fresh_s=0)
    await client.get(ISSUE, headers=auth(TOKEN_A))
    second = await client.get(ISSUE, headers=auth(TOKEN_A))

    assert second.headers["x-cache"] == "REVALIDATED"
    assert github.count("GET", "/repos/octo/hello/issues/1") == 2


async def test_a_resource_changed_on_github_is_fetched_again_after_the_window(
    client: httpx.AsyncClient, github: FakeGitHub, clock: list[int]
) -> None:
    await client.get(ISSUE, headers=auth(TOKEN_A))
    github.add_issue("octo", "hello", title="Renamed on github.com", number=1)
    clock[0] += 61_000
    second = await client.get(ISSUE, headers=auth(TOKEN_A))

    assert second.headers["x-cache"] == "MISS"
    assert second.json()["title"] == "Renamed on github.com"


async def test_a_matching_if_none_match_gets_a_304_from_the_proxy(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    first = await client.get(ISSUE, headers=auth(TOKEN_A))
    again = await client.get(
        ISSUE, headers={**auth(TOKEN_A), "If-None-Match": first.headers["etag"]}
    )

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert github.count("GET", "/repos/octo/hello/issues/1") == 1


async def test_accept_values_and_api_versions_never_share_an_entry(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    plain = await client.get(ISSUE, headers=auth(TOKEN_A))
    full = await client.get(
        ISSUE, headers={**auth(TOKEN_A), "Accept": "application/vnd.github.full+json"}
    )
    newer = await client.get(ISSUE, headers={**auth(TOKEN_A), "X-GitHub-Api-Version": "2026-03-10"})

    assert [plain.headers["x-cache"], full.headers["x-cache"], newer.headers["x-cache"]] == [
        "MISS",
        "MISS",
        "MISS",
    ]
    assert "body_html" in full.json() and "body_html" not in plain.json()
    assert newer.headers["x-github-api-version-selected"] == "2026-03-10"
    assert github.count("GET", "/repos/octo/hello/issues/1") == 3


async def test_no_version_and_the_default_version_share_an_entry(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    await client.get(ISSUE, headers=auth(TOKEN_A))
    pinned = await client.get(
        ISSUE, headers={**auth(TOKEN_A), "X-GitHub-Api-Version": "2022-11-28"}
    )
    assert pinned.headers["x-cache"] == "HIT"
    assert github.requests[0].headers["x-github-api-version"] == "2022-11-28"


async def test_head_is_answered_from_the_get_entry_without_a_body(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    await client.get(ISSUE, headers=auth(TOKEN_A))
    head = await client.head(ISSUE, headers=auth(TOKEN_A))

    assert head.status_code == 200
    assert head.headers["x-cache"] == "HIT"
    assert head.content == b""
    assert github.count() == 1


async def test_errors_and_not_found_are_never_stored(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    for _ in range(2):
        missing = await client.get("/api/github/repos/octo/nope", headers=auth(TOKEN_A))
        assert missing.status_code == 404
        assert missing.headers["x-cache"] == "MISS"
    assert github.count("GET", "/repos/octo/nope") == 2


async def test_rate_limit_endpoint_is_always_asked_of_github(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    for _ in range(2):
        answer = await client.get("/api/github/rate_limit", headers=auth(TOKEN_A))
        assert answer.headers["x-cache"] == "BYPASS"
    assert github.count("GET", "/rate_limit") == 2


async def test_bodies_over_the_size_cap_are_served_but_not_stored(
    make_client: ClientFactory, github: FakeGitHub
) -> None:
    client = make_client(cache_max_body_bytes=100)
    for _ in range(2):
        answer = await client.get(ISSUE, headers=auth(TOKEN_A))
        assert answer.headers["x-cache"] == "MISS"
    assert github.count() == 2


async def test_every_answer_says_it_must_not_be_shared_by_a_cdn(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert answer.headers["cache-control"] == "private, no-store"
    assert answer.headers["vary"] == "Authorization, Accept, X-GitHub-Api-Version"
    assert "s-maxage" not in answer.headers.get("cache-control", "")
    assert "set-cookie" not in answer.headers


async def test_tokens_partition_the_cache(client: httpx.AsyncClient, github: FakeGitHub) -> None:
    alice = await client.get(ISSUE, headers=auth(TOKEN_A))
    bob = await client.get(ISSUE, headers=auth(TOKEN_B))

    assert alice.headers["x-cache"] == bob.headers["x-cache"] == "MISS"
    assert alice.headers["etag"] != bob.headers["etag"]
    assert github.count("GET", "/repos/octo/hello/issues/1") == 2
