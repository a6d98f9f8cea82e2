"""Upstream protection: penalty boxes, stale-if-error, retries, and the per-token cap."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from proxy import Gateway
from shared.store.embedded import EmbeddedStore
from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A, TOKEN_B, ClientFactory, auth, gateway_settings

ISSUE = "/api/github/repos/octo/hello/issues/1"


async def test_a_stale_entry_is_served_when_github_fails(
    client: httpx.AsyncClient, github: FakeGitHub, clock: list[int]
) -> None:
    first = await client.get(ISSUE, headers=auth(TOKEN_A))
    clock[0] += 120_000
    github.fail_next(3, status=502)  # the first try and both retries
    stale = await client.get(ISSUE, headers=auth(TOKEN_A))

    assert stale.status_code == 200
    assert stale.headers["x-cache"] == "STALE"
    assert stale.headers["age"] == "120"
    assert stale.json() == first.json()


async def test_a_stale_entry_is_served_when_github_drops_the_connection(
    make_client: ClientFactory, github: FakeGitHub
) -> None:
    client = make_client(cache_fresh_s=0, upstream_retries=0)
    await client.get(ISSUE, headers=auth(TOKEN_A))
    github.drop_next(1)
    stale = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert stale.headers["x-cache"] == "STALE"


async def test_stale_entries_older_than_the_bound_are_not_served(
    make_client: ClientFactory, github: FakeGitHub, clock: list[int]
) -> None:
    client = make_client(stale_max_s=60, upstream_retries=0)
    await client.get(ISSUE, headers=auth(TOKEN_A))
    clock[0] += 120_000
    github.fail_next(1, status=503)
    answer = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert answer.status_code == 503
    assert answer.headers["x-cache"] == "MISS"


async def test_without_an_entry_a_dropped_connection_is_a_clear_502(
    make_client: ClientFactory, github: FakeGitHub
) -> None:
    client = make_client(upstream_retries=0)
    github.drop_next(1)
    answer = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "upstream_unreachable"
    assert "Traceback" not in answer.text


async def test_a_slow_github_is_a_504_after_the_upstream_timeout(
    make_client: ClientFactory, github: FakeGitHub
) -> None:
    client = make_client(upstream_timeout_s=0.2, upstream_retries=0)
    github.delay_next(1, 1.0)
    answer = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert answer.status_code == 504
    assert answer.json()["error"]["code"] == "upstream_timeout"


async def test_reads_are_retried_on_502_503_504(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    github.fail_next(1, status=502)
    github.fail_next(1, status=503)
    answer = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert answer.status_code == 200
    assert github.count("GET", "/repos/octo/hello/issues/1") == 3


async def test_a_500_is_not_retried(client: httpx.AsyncClient, github: FakeGitHub) -> None:
    github.fail_next(1, status=500)
    answer = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert answer.status_code == 500
    assert github.count("GET", "/repos/octo/hello/issues/1") == 1


async def test_a_write_is_never_retried(client: httpx.AsyncClient, github: FakeGitHub) -> None:
    github.fail_next(1, status=502)
    answer = await client.patch(ISSUE, headers=auth(TOKEN_A), json={"title": "once"})
    assert answer.status_code == 502
    assert github.count("PATCH", "/repos/octo/hello/issues/1") == 1


async def test_a_secondary_limit_boxes_the_token_and_github_is_not_called_while_boxed(
    make_client: ClientFactory, github: FakeGitHub
) -> None:
    client = make_client(cache_fresh_s=0)
    await client.get(ISSUE, headers=auth(TOKEN_A))
    github.secondary_limit_next(1, retry_after=120)

    stale = await client.get(ISSUE, headers=auth(TOKEN_A))
    calls = github.count()
    other = await client.get("/api/github/repos/octo/hello/issues/2", headers=auth(TOKEN_A))
    again = await client.get(ISSUE, headers=auth(TOKEN_A))
    bob = await client.get(ISSUE, headers=auth(TOKEN_B))

    assert stale.headers["x-cache"] == "STALE"
    assert other.status_code == 429
    assert other.json()["error"]["code"] == "upstream_rate_limited"
    assert 115 <= int(other.headers["retry-after"]) <= 120
    assert again.headers["x-cache"] == "STALE"
    assert github.count() == calls + 1  # only bob's call: alice's token stays boxed
    assert bob.status_code == 200


async def test_a_secondary_limit_without_retry_after_boxes_for_the_default(
    make_client: ClientFactory, github: FakeGitHub
) -> None:
    client = make_client()
    github.secondary_limit_next(1, retry_after=None)
    first = await client.get(ISSUE, headers=auth(TOKEN_A))
    second = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert first.status_code == second.status_code == 429
    assert 55 <= int(second.headers["retry-after"]) <= 60
    assert github.count() == 1


async def test_a_spent_primary_budget_boxes_that_resource_until_reset(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    github.set_rate_limit(TOKEN_A, remaining=0)
    first = await client.get(ISSUE, headers=auth(TOKEN_A))
    second = await client.get("/api/github/repos/octo/hello", headers=auth(TOKEN_A))
    search = await client.get("/api/github/search/issues?q=bug", headers=auth(TOKEN_A))

    assert first.status_code == second.status_code == 429
    assert int(second.headers["retry-after"]) > 60
    assert github.count("GET", "/repos/octo/hello") == 0
    assert search.status_code == 200  # another resource, its own budget


async def test_the_budget_github_reports_is_shared_through_the_store(
    make_gateway, github: FakeGitHub, make_client: ClientFactory
) -> None:
    store = EmbeddedStore()
    one, two = make_client(make_gateway(store)), make_client(make_gateway(store))
    github.set_rate_limit(TOKEN_A, remaining=1)
    await one.get(ISSUE, headers=auth(TOKEN_A))  # spends the last unit: remaining 0
    answer = await two.get("/api/github/repos/octo/hello", headers=auth(TOKEN_A))
    assert answer.status_code == 429
    assert github.count("GET", "/repos/octo/hello") == 0


class _ConcurrencyProbe:
    """Counts requests in flight at the fake, and the most ever seen at once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.in_flight = 0
        self.most = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def test_concurrent_upstream_calls_per_token_are_capped(github: FakeGitHub) -> None:
    probe = _ConcurrencyProbe(github.app)
    gateway = Gateway(
        gateway_settings(upstream_concurrency=2),
        EmbeddedStore(),
        transport=httpx.ASGITransport(app=probe),
    )
    from proxy import create_app

    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(gateway.settings, gateway=gateway)),
        base_url="http://hubbub.test",
    )
    github.delay_next(6, 0.05)
    try:
        answers = await asyncio.gather(
            *(
                client.get(f"/api/github/repos/octo/hello/issues/{n}", headers=auth(TOKEN_A))
                for n in range(1, 7)
            )
        )
    finally:
        await client.aclose()
        await gateway.aclose()
    assert [answer.status_code for answer in answers] == [200] * 6
    assert probe.most == 2
