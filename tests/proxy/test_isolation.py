"""One caller's answers are never served to another, on every Store backend."""

from __future__ import annotations

from shared.store import Store
from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A, TOKEN_B, ClientFactory, auth

SECRET = "/api/github/repos/octo/secret/issues/1"


async def test_token_a_answer_is_never_served_to_token_b_or_anonymous(
    store: Store, make_gateway, make_client: ClientFactory, github: FakeGitHub
) -> None:
    client = make_client(make_gateway(store))
    alice = await client.get(SECRET, headers=auth(TOKEN_A))
    bob = await client.get(SECRET, headers=auth(TOKEN_B))
    anonymous = await client.get(SECRET)
    alice_again = await client.get(SECRET, headers=auth(TOKEN_A))

    assert alice.status_code == 200 and "only alice" in alice.text
    assert bob.status_code == anonymous.status_code == 404
    assert "only alice" not in bob.text + anonymous.text
    assert bob.headers["x-cache"] == anonymous.headers["x-cache"] == "MISS"
    assert alice_again.headers["x-cache"] == "HIT"
    assert github.count("GET", "/repos/octo/secret/issues/1") == 3


async def test_a_boxed_token_never_gets_another_partitions_stale_entry(
    store: Store, make_gateway, make_client: ClientFactory, github: FakeGitHub
) -> None:
    client = make_client(make_gateway(store))
    await client.get(SECRET, headers=auth(TOKEN_A))
    github.secondary_limit_next(1, retry_after=60)
    bob = await client.get(SECRET, headers=auth(TOKEN_B))

    assert bob.status_code == 429
    assert "only alice" not in bob.text


async def test_the_partition_is_a_hash_and_no_key_holds_a_token(
    store: Store, make_gateway, make_client: ClientFactory
) -> None:
    client = make_client(make_gateway(store))
    await client.get(SECRET, headers=auth(TOKEN_A))
    await client.post(
        "/api/github/repos/octo/hello/issues", headers=auth(TOKEN_A), json={"title": "t"}
    )
    keys = await store.pipeline([("KEYS", "*")])
    assert keys[0], "the gateway stored nothing"
    assert not any(TOKEN_A in key for key in keys[0])
    values = await store.mget(list(keys[0]))
    assert not any(value and TOKEN_A in value for value in values if isinstance(value, str))
