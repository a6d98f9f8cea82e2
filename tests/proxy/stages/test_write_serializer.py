"""Writes: one at a time per token, fleet-wide; other tokens are not held up."""

from __future__ import annotations

import asyncio

from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A, TOKEN_B, ClientFactory, auth

ISSUE = "/api/github/repos/octo/hello/issues/3"


async def test_two_writes_with_one_token_never_overlap(
    make_gateway, make_client: ClientFactory, github: FakeGitHub
) -> None:
    client = make_client(make_gateway(write_spacing_ms=0))
    github.hold("/repos/octo/hello/issues/3")
    first = asyncio.create_task(client.patch(ISSUE, headers=auth(TOKEN_A), json={"title": "one"}))
    second = asyncio.create_task(client.patch(ISSUE, headers=auth(TOKEN_A), json={"title": "two"}))
    await github.wait_held(1)
    other = await client.patch(
        "/api/github/repos/octo/hello/issues/4", headers=auth(TOKEN_B), json={"title": "bob"}
    )
    # Bob's write went through while alice's second write still waits for her first.
    assert other.status_code == 200
    assert github.count("PATCH", "/repos/octo/hello/issues/3") == 1
    github.release()
    assert [answer.status_code for answer in await asyncio.gather(first, second)] == [200, 200]
    assert github.count("PATCH", "/repos/octo/hello/issues/3") == 2
