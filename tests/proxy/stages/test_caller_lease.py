"""Leased caller limits: most reads make no Store call for their limit, and no number of
instances admits more than the limit."""

from __future__ import annotations

import asyncio
from collections import Counter

from shared.store import Store
from tests.fakes.counting_store import CountingStore
from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A, ClientFactory, auth

ISSUE = "/api/github/repos/octo/hello/issues/3"


async def test_limit_of_n_admits_at_most_n_of_n_plus_50_over_two_processes(
    store_pair: tuple[Store, Store], make_gateway, make_client: ClientFactory, github: FakeGitHub
) -> None:
    clients = [
        make_client(
            make_gateway(
                store,
                caller_limit=100,
                caller_window_s=3600,  # GCRA refills continuously: keep it out of the count
                limit_lease_units=10,
                cost_upstream=0,
            )
        )
        for store in store_pair
    ]
    answers = await asyncio.gather(
        *(clients[n % 2].get(ISSUE, headers=auth(TOKEN_A)) for n in range(150))
    )
    admitted = sum(answer.status_code == 200 for answer in answers)
    refused = sum(answer.status_code == 429 for answer in answers)
    assert admitted + refused == 150
    # Never more than N; at most one lease per process left unspent.
    assert 100 - 2 * 10 <= admitted <= 100


async def test_reads_spend_a_lease_without_asking_the_store(
    make_gateway, make_client: ClientFactory
) -> None:
    from shared.store.embedded import EmbeddedStore

    store = CountingStore(EmbeddedStore())
    client = make_client(make_gateway(store, caller_limit=100, limit_lease_units=10))
    for _ in range(10):
        answer = await client.get(ISSUE, headers=auth(TOKEN_A))
        assert answer.status_code == 200
    # 10 reads and one MISS surcharge: 11 units, so one lease of 10 and a second take.
    assert store.scripts["caller_lease"] == 2
    assert store.scripts["caller_limit"] == 0
    assert answer.headers["ratelimit-remaining"] == str(100 - 11)


async def test_a_refused_caller_is_refused_locally_until_its_retry_time(
    make_gateway, make_client: ClientFactory
) -> None:
    from shared.store.embedded import EmbeddedStore

    store = CountingStore(EmbeddedStore())
    client = make_client(make_gateway(store, caller_limit=3, cost_upstream=0))
    statuses = [(await client.get(ISSUE, headers=auth(TOKEN_A))).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    takes = store.scripts["caller_lease"]
    for _ in range(5):
        refused = await client.get(ISSUE, headers=auth(TOKEN_A))
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
    # One take found the budget spent; the next four were answered from memory.
    assert store.scripts["caller_lease"] == takes + 1


async def test_without_leases_every_read_asks_the_store(
    store: Store, make_gateway, make_client: ClientFactory
) -> None:
    counting = CountingStore(store)
    client = make_client(
        make_gateway(counting, caller_limit=25, limit_lease_units=0, cost_upstream=0)
    )
    answers = await asyncio.gather(*(client.get(ISSUE, headers=auth(TOKEN_A)) for _ in range(35)))
    assert Counter(answer.status_code for answer in answers) == {200: 25, 429: 10}
    assert counting.scripts["caller_lease"] == 0


async def test_a_burst_queues_on_one_take_and_the_next_take_covers_the_queue(
    make_gateway, make_client: ClientFactory
) -> None:
    from shared.store.embedded import EmbeddedStore

    store = CountingStore(EmbeddedStore())
    client = make_client(
        make_gateway(store, caller_limit=1000, limit_lease_units=10, cost_upstream=0)
    )
    answers = await asyncio.gather(*(client.get(ISSUE, headers=auth(TOKEN_A)) for _ in range(40)))
    assert all(answer.status_code == 200 for answer in answers)
    # The first take (10 units) serves 10 in arrival order; the 30 left queue again and
    # the second take asks for what they need, instead of ten takes of ten.
    assert store.scripts["caller_lease"] <= 3


async def test_a_caller_polling_hard_gets_growing_leases_within_a_share_of_the_limit(
    make_gateway, make_client: ClientFactory
) -> None:
    from shared.store.embedded import EmbeddedStore

    store = CountingStore(EmbeddedStore())
    client = make_client(
        make_gateway(store, caller_limit=100_000, limit_lease_units=10, cost_upstream=0)
    )
    for _ in range(310):
        assert (await client.get(ISSUE, headers=auth(TOKEN_A))).status_code == 200
    # 10 + 20 + 40 + 80 + 160 = 310: five takes where fixed leases of 10 needed 31.
    assert store.scripts["caller_lease"] <= 6
    small = CountingStore(EmbeddedStore())
    capped = make_client(
        make_gateway(small, caller_limit=600, limit_lease_units=10, cost_upstream=0)
    )
    for _ in range(100):
        await capped.get(ISSUE, headers=auth(TOKEN_A))
    # At 600 a minute, 1% is under the minimum lease: leases stay at 10.
    assert small.scripts["caller_lease"] >= 10
