"""Access decisions from the permissions GitHub shows each caller."""

from __future__ import annotations

import pytest
from starlette.datastructures import Secret

from proxy import Gateway
from shared.errors import InvalidRequest
from shared.identity import anonymous_identity, identity_for_token
from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A, TOKEN_B, GatewayFactory

TOKEN_OWNER = "ghp_octoOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOO"
TOKEN_CAROL = "ghp_carolCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"


@pytest.fixture
def gateway(github: FakeGitHub, make_gateway: GatewayFactory) -> Gateway:
    github.add_user(TOKEN_OWNER, "octo")
    github.add_user(TOKEN_CAROL, "carol")
    github.repos["octo/secret"].writers.add("bob")
    return make_gateway()


@pytest.mark.parametrize(
    ("token", "repo", "level", "read", "write"),
    [
        (TOKEN_OWNER, "octo/secret", "admin", True, True),
        (TOKEN_B, "octo/secret", "write", True, True),  # bob may push
        (TOKEN_A, "octo/secret", "read", True, False),  # alice may read the private repo
        (TOKEN_CAROL, "octo/secret", "none", False, False),  # carol may not see it
        (TOKEN_CAROL, "octo/hello", "read", True, False),  # anyone reads a public repo
        (TOKEN_A, "octo/missing", "none", False, False),
    ],
)
async def test_decisions_follow_githubs_permissions(
    gateway: Gateway, token: str, repo: str, level: str, read: bool, write: bool
) -> None:
    caller = identity_for_token(token)
    assert await gateway.access.permission(caller, repo) == level
    assert await gateway.access.can_read(caller, repo) is read
    assert await gateway.access.can_write(caller, repo) is write


async def test_an_anonymous_caller_reads_public_repositories_and_never_writes(
    gateway: Gateway,
) -> None:
    anonymous = anonymous_identity("203.0.113.9", None)
    # Served with the server's token, which alice's is standing in for: it can see the
    # private repository, and the anonymous caller still may not.
    served_as_alice = anonymous_identity("203.0.113.9", Secret(TOKEN_A))
    assert await gateway.access.can_read(anonymous, "octo/hello")
    assert not await gateway.access.can_read(anonymous, "octo/secret")
    assert not await gateway.access.can_read(served_as_alice, "octo/secret")
    assert await gateway.access.can_read(served_as_alice, "octo/hello")
    assert not await gateway.access.can_write(served_as_alice, "octo/hello")


async def test_a_decision_is_cached_with_the_repository_answer(
    gateway: Gateway, github: FakeGitHub
) -> None:
    alice = identity_for_token(TOKEN_A)
    assert await gateway.access.can_read(alice, "octo/secret")
    asked = github.count("GET", "/repos/octo/secret")
    for _ in range(5):
        assert await gateway.access.can_read(alice, "octo/secret")
    assert github.count("GET", "/repos/octo/secret") == asked == 1


@pytest.mark.parametrize("repo", ["octo", "../x/y", "octo/hello/issues", "a b/c", "o/r?x=1"])
async def test_a_malformed_repository_name_is_refused_before_github(
    gateway: Gateway, github: FakeGitHub, repo: str
) -> None:
    with pytest.raises(InvalidRequest):
        await gateway.access.can_read(identity_for_token(TOKEN_A), repo)
    assert github.count() == 0
