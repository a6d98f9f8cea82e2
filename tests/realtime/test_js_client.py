"""The official JavaScript `socket.io-client` (tests/js, run with node) against the real
server: it connects with a GitHub token, joins a project room and receives a webhook's
`github_event` with its stream id; without a token it is refused as `unauthorized`.

This proves the wire protocol works for browsers' client, not only for python-socketio.
Without node or tests/js/node_modules the tests skip; under CI (`CI` set) they fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.proxy.conftest import TOKEN_A
from tests.realtime.conftest import TIMEOUT, Live

JS_DIR = Path(__file__).parents[1] / "js"


def node_binary() -> str:
    """node's path; skips the test (fails it under CI) when node or the client is missing."""
    node = shutil.which("node")
    if node is None:
        reason = "node is not on PATH"
    elif not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
        reason = "tests/js/node_modules is missing (run: npm ci --prefix tests/js)"
    else:
        return node
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the JavaScript client tests")
    pytest.skip(reason)


class JsClient:
    """tests/js/client.mjs running in node; its stdout is one JSON object per line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def expect(self, key: str) -> Any:
        """The next line, which must be `{key: value}`; its value."""
        raw = await asyncio.wait_for(self.process.stdout.readline(), TIMEOUT)
        if not raw:
            stderr = await self.process.stderr.read()
            raise AssertionError(f"node exited before {key!r}: {stderr.decode()}")
        line = json.loads(raw)
        assert key in line, line
        return line[key]

    async def exit_code(self) -> int:
        return await asyncio.wait_for(self.process.wait(), TIMEOUT)


RunJs = Callable[[dict[str, Any]], Awaitable[JsClient]]


@pytest_asyncio.fixture
async def run_js() -> AsyncIterator[RunJs]:
    node = node_binary()
    processes: list[asyncio.subprocess.Process] = []

    async def run(config: dict[str, Any]) -> JsClient:
        process = await asyncio.create_subprocess_exec(
            node,
            str(JS_DIR / "client.mjs"),
            json.dumps(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        processes.append(process)
        return JsClient(process)

    yield run
    for process in processes:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_the_js_client_joins_a_project_and_receives_its_github_event(
    run_js: RunJs, live: Live
) -> None:
    js = await run_js({"url": live.url, "token": TOKEN_A, "repo": "octo/hello", "count": 1})
    assert await js.expect("connected") is True
    ack = await js.expect("ack")
    assert ack["ok"] is True
    assert ack["repo"] == "octo/hello"

    stream_id = await live.issue_event(1, title="Seen from JavaScript")
    event = await js.expect("event")
    assert event["id"] == stream_id
    assert event["type"] == "github.issues"
    assert event["repository"]["full_name"] == "octo/hello"
    assert event["subject"]["number"] == 1
    assert event["data"]["title"] == "Seen from JavaScript"
    assert await js.expect("done") is True
    assert await js.exit_code() == 0


async def test_the_js_client_without_a_token_is_refused(run_js: RunJs, live: Live) -> None:
    js = await run_js({"url": live.url, "repo": "octo/hello"})
    refusal = await js.expect("connect_error")
    assert refusal["message"] == "unauthorized"
    assert refusal["data"]["code"] == "token_required"
    assert await js.exit_code() == 0
