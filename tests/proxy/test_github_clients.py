"""PyGithub and githubkit, pointed at the proxy, work unmodified: a read, a list, a write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import github as pygithub
import pytest_asyncio
from githubkit import GitHub

from proxy import create_app
from tests.fakes.github import FakeGitHub
from tests.fakes.serving import serve
from tests.proxy.conftest import TOKEN_A


@pytest_asyncio.fixture
async def proxy_url(make_gateway) -> AsyncIterator[str]:
    gateway = make_gateway()
    async with serve(create_app(gateway.settings, gateway=gateway)) as base:
        yield base + "/api/github"


async def test_pygithub_reads_paginates_and_writes_through_the_proxy(
    proxy_url: str, github: FakeGitHub
) -> None:
    def use_pygithub() -> tuple[str, int, str]:
        client = pygithub.Github(
            base_url=proxy_url, auth=pygithub.Auth.Token(TOKEN_A), per_page=20, retry=None
        )
        repo = client.get_repo("octo/hello")
        issue = repo.get_issue(1)
        titles = [each.title for each in repo.get_issues(state="all")]
        issue.edit(title="Edited by PyGithub")
        client.close()
        return issue.title, len(titles), repo.full_name

    title, count, name = await asyncio.to_thread(use_pygithub)

    assert name == "octo/hello"
    assert count == 75
    assert title == "Edited by PyGithub"
    assert github.count("PATCH", "/repos/octo/hello/issues/1") == 1
    assert all(request.host.startswith("api.github.com") for request in github.requests)


async def test_githubkit_reads_paginates_and_writes_through_the_proxy(
    proxy_url: str, github: FakeGitHub
) -> None:
    async with GitHub(TOKEN_A, base_url=proxy_url + "/") as client:
        repo = (await client.rest.repos.async_get("octo", "hello")).parsed_data
        issue = (await client.rest.issues.async_get("octo", "hello", 1)).parsed_data
        titles = [
            each.title
            async for each in client.rest.paginate(
                client.rest.issues.async_list_for_repo,
                owner="octo",
                repo="hello",
                state="all",
                per_page=25,
            )
        ]
        edited = (
            await client.rest.issues.async_update("octo", "hello", 1, title="Edited by githubkit")
        ).parsed_data

    assert repo.full_name == "octo/hello"
    assert issue.number == 1
    assert len(titles) == 75
    assert edited.title == "Edited by githubkit"
    assert github.count("PATCH", "/repos/octo/hello/issues/1") == 1
