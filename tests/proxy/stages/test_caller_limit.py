"""The caller limit: exactly N of N+10 concurrent requests pass, hits cost less, fail modes."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from shared.store import Store
from tests.fakes.github import FakeGitHub
from tests.fakes.waiting import wait_until
from tests.proxy.conftest import TOKEN_A, TOKEN_B, ClientFactory, auth

ISSUE = "/api/github/repos/octo/hello/issues/3"


async def _race(github: FakeGitHub, clients: list[httpx.AsyncClient], total: int) -> Counter[int]:
    github.hold("/repos/octo/hello/issues/3")
    tasks = [
        asyncio.create_task(clients[n % len(clients)].get(ISSUE, headers=auth(TOKEN_A)))
        for n in range(total)
    ]
    # Refusals come back at once; admitted requests wait on the one held upstream call.
    await github.wait_held(1)
    await wait_until(lambda: sum(task.done() for task in tasks) == 10)
    github.release()
    return Counter(answer.status_code for answer in await asyncio.gather(*tasks))


async def test_a_limit_of_n_admits_exactly_n_of_n_plus_ten_concurrent_requests(
    store: Store, make_gateway, make_client: ClientFactory, github: FakeGitHub
) -> None:
    client = make_client(make_gateway(store, caller_limit=25))
    assert await _race(github, [client], 35) == {200: 25, 429: 10}


async def test_the_limit_holds_across_two_gateways_on_one_store(
    store_pair: tuple[Store, Store], make_gateway, make_client: ClientFactory, github: FakeGitHub
) -> None:
    clients = [make_client(make_gateway(store, caller_limit=20)) for store in store_pair]
    assert await _race(github, clients, 30) == {200: 20, 429: 10}


async def test_a_refusal_says_when_to_come_back(make_client: ClientFactory) -> None:
    client = make_client(caller_limit=2, caller_window_s=60, cost_upstream=0)
    answers = [await client.get(ISSUE, headers=auth(TOKEN_A)) for _ in range(3)]

    assert [answer.status_code for answer in answers[:2]] == [200, 200]
    refused = answers[2]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-limit"] == "2"
    assert refused.headers["ratelimit-remaining"] == "0"


async def test_admitted_answers_carry_ratelimit_headers(make_client: ClientFactory) -> None:
    client = make_client(caller_limit=10)
    answer = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert answer.headers["ratelimit-limit"] == "10"
    assert answer.headers["ratelimit-remaining"] == "9"
    assert int(answer.headers["ratelimit-reset"]) >= 1


async def test_hits_cost_less_than_misses(make_client: ClientFactory) -> None:
    client = make_client(caller_limit=10, cost_read=1, cost_upstream=1)
    await client.get(ISSUE, headers=auth(TOKEN_A))  # a miss: 1 + 1 surcharge
    hit = await client.get(ISSUE, headers=auth(TOKEN_A))  # a hit: 1
    after = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert hit.headers["x-cache"] == "HIT"
    assert hit.headers["ratelimit-remaining"] == "7"
    assert after.headers["ratelimit-remaining"] == "6"


async def test_writes_cost_more(make_client: ClientFactory) -> None:
    client = make_client(caller_limit=10, cost_write=5)
    write = await client.patch(ISSUE, headers=auth(TOKEN_A), json={"title": "x"})
    assert write.status_code == 200
    assert write.headers["ratelimit-remaining"] == "5"


async def test_callers_have_separate_budgets(make_client: ClientFactory) -> None:
    client = make_client(caller_limit=1, cost_upstream=0)
    assert (await client.get(ISSUE, headers=auth(TOKEN_A))).status_code == 200
    assert (await client.get(ISSUE, headers=auth(TOKEN_A))).status_code == 429
    assert (await client.get(ISSUE, headers=auth(TOKEN_B))).status_code == 200


async def test_graphql_spends_its_own_budget(make_client: ClientFactory) -> None:
    client = make_client(graphql_limit=1, caller_limit=5)
    query = {"query": "{ viewer { login } }"}
    first = await client.post("/api/github/graphql", headers=auth(TOKEN_A), json=query)
    second = await client.post("/api/github/graphql", headers=auth(TOKEN_A), json=query)
    rest = await client.get(ISSUE, headers=auth(TOKEN_A))

    assert first.status_code == 200
    assert first.json()["data"]["viewer"]["login"] == "alice"
    assert first.headers["x-cache"] == "BYPASS"
    assert second.status_code == 429
    assert rest.status_code == 200


async def test_without_the_store_reads_fail_open_and_writes_fail_closed(
    make_gateway, make_client: ClientFactory, github: FakeGitHub
) -> None:
    from shared.store.native import NativeStore
    from tests.fakes.serving import free_port

    unreachable = NativeStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout_ms=200)
    client = make_client(make_gateway(unreachable))

    read = await client.get(ISSUE, headers=auth(TOKEN_A))
    write = await client.patch(ISSUE, headers=auth(TOKEN_A), json={"title": "no"})

    assert read.status_code == 200
    assert write.status_code == 503
    assert write.json()["error"]["code"] == "store_unavailable"
    assert github.count("PATCH", "/repos/octo/hello/issues/3") == 0
    await unreachable.aclose()
