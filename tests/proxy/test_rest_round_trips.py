"""On the REST store every Store command is an HTTPS request to Upstash: a hit costs one,
a miss at most three, counted at the local Upstash-protocol server."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from tests.conftest import StoreFactory
from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A, ClientFactory, GatewayFactory, auth

ISSUE = "/api/github/repos/octo/hello/issues/{}"


@pytest.mark.parametrize("lease_units", [10, 1], ids=["lease-spent-in-memory", "take-every-read"])
async def test_a_hit_is_one_request_and_a_miss_at_most_three(
    make_client: ClientFactory,
    make_gateway: GatewayFactory,
    make_store: StoreFactory,
    upstash_app: Starlette,
    github: FakeGitHub,
    clock: list[int],
    lease_units: int,
) -> None:
    gateway = make_gateway(await make_store("rest"), l1_ttl_s=0, limit_lease_units=lease_units)
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
