"""Single flight: identical misses make one upstream call, in a process and across two."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from proxy import Gateway
from shared.store import Store
from shared.store.embedded import EmbeddedStore
from shared.store.keys import Keys
from tests.fakes.github import FakeGitHub
from tests.fakes.waiting import wait_until
from tests.proxy.conftest import TOKEN_A, ClientFactory, auth

ISSUE = "/api/github/repos/octo/hello/issues/7"
UPSTREAM = "/repos/octo/hello/issues/7"


async def _fifty_at_once(
    github: FakeGitHub, clients: list[httpx.AsyncClient], gateways: list[Gateway]
) -> list[httpx.Response]:
    github.hold(UPSTREAM)
    tasks = [
        asyncio.create_task(clients[n % len(clients)].get(ISSUE, headers=auth(TOKEN_A)))
        for n in range(50)
    ]
    await github.wait_held(1)
    # Everyone else is waiting on the one call GitHub is holding.
    await wait_until(lambda: sum(g.single_flight.waiting for g in gateways) == 49)
    github.release()
    return await asyncio.gather(*tasks)


async def test_fifty_identical_misses_make_one_upstream_call(
    make_gateway, make_client: ClientFactory, github: FakeGitHub
) -> None:
    gateway = make_gateway()
    answers = await _fifty_at_once(github, [make_client(gateway)], [gateway])

    assert github.count("GET", UPSTREAM) == 1
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.content for answer in answers}) == 1
    assert Counter(answer.headers["x-cache"] for answer in answers) == {
        "MISS": 1,
        "COALESCED": 49,
    }


async def test_fifty_identical_misses_across_two_gateways_make_one_upstream_call(
    store_pair: tuple[Store, Store],
    make_gateway,
    make_client: ClientFactory,
    github: FakeGitHub,
) -> None:
    one, two = make_gateway(store_pair[0]), make_gateway(store_pair[1])
    answers = await _fifty_at_once(github, [make_client(one), make_client(two)], [one, two])

    assert github.count("GET", UPSTREAM) == 1
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.content for answer in answers}) == 1
    assert Counter(answer.headers["x-cache"] for answer in answers)["COALESCED"] == 49


async def test_a_waiter_whose_leader_died_takes_over(
    make_gateway, make_client: ClientFactory, github: FakeGitHub
) -> None:
    store = EmbeddedStore()
    gateway = make_gateway(store)
    client = make_client(gateway)
    # A leader in another process took the lease, then died: its lease runs out soon.
    request_key = await _cache_key_of(client, gateway, github)
    await store.set(Keys().flight_lease(request_key), "dead-leader", px=300)

    answer = await client.get(ISSUE, headers=auth(TOKEN_A))

    assert answer.status_code == 200
    assert answer.headers["x-cache"] == "MISS"
    assert github.count("GET", UPSTREAM) == 1


async def _cache_key_of(client: httpx.AsyncClient, gateway: Gateway, github: FakeGitHub) -> str:
    """The cache key the gateway computes for ISSUE, learned from a request that is refused."""
    from proxy.cache_key import cache_key
    from proxy.messages import GatewayRequest
    from shared.identity import identity_for_token

    request = GatewayRequest(
        "GET", "/repos/octo/hello/issues/7", "", identity_for_token(TOKEN_A), headers={}
    )
    return cache_key(request, gateway.settings.github_api_version)


async def test_different_partitions_are_not_coalesced(
    make_gateway, make_client: ClientFactory, github: FakeGitHub
) -> None:
    from tests.proxy.conftest import TOKEN_B

    gateway = make_gateway()
    client = make_client(gateway)
    github.hold(UPSTREAM)
    tasks = [
        asyncio.create_task(client.get(ISSUE, headers=auth(token))) for token in (TOKEN_A, TOKEN_B)
    ]
    await github.wait_held(2)
    github.release()
    answers = await asyncio.gather(*tasks)
    assert [answer.headers["x-cache"] for answer in answers] == ["MISS", "MISS"]


async def test_losing_the_lease_between_retries_still_frees_the_first_attempts_slot(
    make_gateway, make_client: ClientFactory, github: FakeGitHub
) -> None:
    """Attempt one gets a 502; before the retry, another process takes the flight lease.
    This call then waits for that one, and what attempt one left to write still goes."""
    from proxy.stages.upstream_protection import ADMIT
    from shared.identity import digest

    gateway = make_gateway(upstream_retries=1, l1_ttl_s=0)
    store = gateway.store
    client = make_client(gateway)
    github.fail_next(1, status=502, path=UPSTREAM)
    admit = store.eval_script
    admits = []

    async def eval_script(script, keys, args):  # type: ignore[no-untyped-def]
        if script is ADMIT and len(keys) == 4:
            admits.append(keys[3])
            if len(admits) == 2:  # our lease lapsed and another process took it
                await store.set(keys[3], "another-process", px=200)
        return await admit(script, keys, args)

    store.eval_script = eval_script  # type: ignore[method-assign]
    answer = await client.get(ISSUE, headers=auth(TOKEN_A))

    slots = await store.zrangebyscore(
        gateway.keys.upstream_slots(digest("token", TOKEN_A)), "-inf", "+inf"
    )
    assert slots == []  # attempt one's slot was released with its batch
    assert answer.status_code == 200  # the other went away without an answer: this one led
