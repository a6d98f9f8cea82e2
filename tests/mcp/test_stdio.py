"""`hubbub mcp`: the same tools over stdio for a local agent, as the user of the token in
its environment, through a gateway of its own; the SDK's stdio client drives it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from mcp import Client, StdioServerParameters

from tests.fakes.github import FakeGitHub
from tests.fakes.serving import serve
from tests.mcp.conftest import data_of
from tests.proxy.conftest import TOKEN_A

ROOT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture
async def github_url() -> AsyncIterator[str]:
    github = FakeGitHub()
    github.add_user(TOKEN_A, "alice")
    github.add_repo("octo", "hello")
    github.add_issue("octo", "hello", title="First")
    async with serve(github.app) as url:
        yield url


def environment(github_url: str, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return {**keep, "GITHUB_API_URL": github_url, "HUBBUB_LOG_LEVEL": "WARNING", **extra}


async def test_an_agent_on_stdio_works_as_the_tokens_user(github_url: str) -> None:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "realtime", "mcp"],
        env=environment(github_url, GITHUB_TOKEN=TOKEN_A),
        cwd=ROOT,
    )
    async with Client(server, cache=None) as client:
        me = data_of(await client.call_tool("get_me", {}))
        issue = data_of(
            await client.call_tool(
                "issue_read", {"owner": "octo", "repo": "hello", "issue_number": 1}
            )
        )
    assert me["item"]["login"] == "alice"
    assert issue["item"]["title"] == "First"


async def test_without_a_credential_or_with_a_refused_one_it_says_so(github_url: str) -> None:
    for extra, expected in (
        ({}, "set HUBBUB_TOKEN or GITHUB_TOKEN"),
        ({"GITHUB_TOKEN": "ghp_notarealtokenNOTAREALTOKEN00000000"}, "credential was refused"),
    ):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "realtime",
            "mcp",
            env=environment(github_url, **extra),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            stdout, stderr = await process.communicate()
        assert process.returncode != 0
        assert expected in stderr.decode()
        assert stdout == b""
