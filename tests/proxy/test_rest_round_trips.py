"""On the REST store every Store command is an HTTPS request to Upstash: a hit costs one,
a miss at most three, counted at the local Upstash-protocol server."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from tests.conftest import StoreFactory
from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A, ClientFactory, GatewayFactory, auth

ISSUE = "/api/github/repos/octo/hello/issues/{}"


@pytest.mark.parametrize(
    ("lease_units", "limit"), [(10, 600), (1, 50)], ids=["lease-spent-in-memory", "take-every-read"]
)
async def test_a_hit_is_one_request_and_a_miss_at_most_three(
    make_client: ClientFactory,
    make_gateway: GatewayFactory,
    make_store: StoreFactory,
    upstash_app: Starlette,
    github: FakeGitHub,
    clock: list[int],
    lease_units: int,
    limit: int,
) -> None:
    gateway = make_gateway(
        await make_store("rest"), l1_ttl_s=0, limit_lease_units=lease_units, caller_limit=limit
    )
    client = make_client(gateway)
    sent = upstash_app.state.requests
    await client.get(ISSUE.format(9), headers=auth(TOKEN_A))  # loads the scripts into Redis

    def since(before: int) -> list[list[str]]:
        return sent[before:]

    before = len(sent)
    miss = await client.get(ISSUE.format(1), headers=auth(TOKEN_A))
    miss_requests = since(before)
    hits = []
    for _ in range(3):
        before = len(sent)
        hit = await client.get(ISSUE.format(1), headers=auth(TOKEN_A))
        hits.append((hit.headers["x-cache"], since(before)))
    clock[0] += 61_000  # past the fresh window: revalidated with the ETag, a free 304
    before = len(sent)
    revalidated = await client.get(ISSUE.format(1), headers=auth(TOKEN_A))
    revalidate_requests = since(before)

    assert miss.headers["x-cache"] == "MISS"
    assert len(miss_requests) <= 3, miss_requests
    for outcome, requests in hits:
        assert outcome == "HIT"
        assert len(requests) == 1, requests  # the cache read, with the lease take if due
    assert revalidated.headers["x-cache"] == "REVALIDATED"
    assert len(revalidate_requests) <= 3, revalidate_requests
    assert github.count("GET", "/repos/octo/hello/issues/1") == 2


async def test_l1_hits_send_nothing_to_upstash(
    make_client: ClientFactory,
    make_gateway: GatewayFactory,
    make_store: StoreFactory,
    upstash_app: Starlette,
) -> None:
    client = make_client(make_gateway(await make_store("rest")))
    await client.get(ISSUE.format(1), headers=auth(TOKEN_A))
    before = len(upstash_app.state.requests)
    for _ in range(5):
        assert (await client.get(ISSUE.format(1), headers=auth(TOKEN_A))).status_code == 200
    assert upstash_app.state.requests[before:] == []


async def test_an_answer_read_with_a_lease_take_never_outlives_a_write_in_l1(
    make_client: ClientFactory, make_gateway: GatewayFactory, make_store: StoreFactory
) -> None:
    """A write lands while a read's lease take (carrying the cache read) is in flight: the
    read may answer with what it read, but the in-process tier must not keep it."""
    store = await make_store("rest")
    gateway = make_gateway(store, l1_ttl_s=5, caller_limit=50, limit_lease_units=1)
    client = make_client(gateway)
    await client.get(ISSUE.format(1), headers=auth(TOKEN_A))
    gateway.hot.clear()  # the entry is in the shared cache only
    send = store.pipeline
    armed = [True]

    async def pipeline(commands):  # type: ignore[no-untyped-def]
        replies = await send(commands)
        if armed[0] and any(command[0] == "MGET" for command in commands):
            armed[0] = False
            edit = await client.patch(
                ISSUE.format(1), headers=auth(TOKEN_A), json={"title": "Changed"}
            )
            assert edit.status_code == 200
        return replies

    store.pipeline = pipeline  # type: ignore[method-assign]
    await client.get(ISSUE.format(1), headers=auth(TOKEN_A))  # read, then the write lands
    after = await client.get(ISSUE.format(1), headers=auth(TOKEN_A))

    assert after.json()["title"] == "Changed"
