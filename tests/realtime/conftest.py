"""The persistent server on loopback, with real Socket.IO clients.

    live            a running server (in this process, on a free port) and its fake GitHub
    live.connect    a connected `socketio.AsyncClient` that records what it receives
    live.deliver    a webhook delivery, signed as GitHub signs it, POSTed to the server
    run_js          a script of tests/js (the official socket.io-client, yjs) under node
    fleet           `hubbub serve` processes on one real Redis, and clients of each

The server is the real app (`realtime.app.create_app`) under uvicorn with websockets, on
the embedded store unless a test asks for Redis.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio
import socketio
from starlette.datastructures import Secret

from proxy import Gateway
from realtime.app import create_app
from realtime.hub import Hub
from shared.config import Settings
from shared.identity import GitHubUser
from shared.identity.session_tokens import new_key_entry
from shared.store import Store
from shared.store.embedded import EmbeddedStore
from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.serving import serve
from tests.proxy.conftest import API, TOKEN_A, TOKEN_B, gateway_settings
from tests.webhooks.conftest import signed

if TYPE_CHECKING:
    from tests.realtime.fleet import Machine

TOKEN_C = "ghp_carolCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
WEBHOOK_SECRET = "realtime-test-secret"
TIMEOUT = 10.0


class Client:
    """A Socket.IO client that keeps every event it receives, in order."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.refusal: Any = None
        self.disconnected = asyncio.Event()
        self._changed = asyncio.Condition()
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._refused)
        self.sio.on("disconnect", self._gone)

    async def _record(self, event: str, data: Any = None) -> None:
        async with self._changed:
            self.events.append((event, data))
            self._changed.notify_all()

    async def _refused(self, data: Any) -> None:
        self.refusal = data

    async def _gone(self, reason: Any = None) -> None:
        self.disconnected.set()

    async def call(self, event: str, data: Any = None) -> Any:
        """Emit and wait for the ack."""
        return await self.sio.call(event, data, timeout=TIMEOUT)

    def received(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def wait_for(
        self, event: str, predicate: Callable[[Any], bool] = lambda _: True, count: int = 1
    ) -> list[Any]:
        """The first `count` `event`s that satisfy `predicate`, waiting for them."""

        def matching() -> list[Any]:
            return [data for data in self.received(event) if predicate(data)]

        async with asyncio.timeout(TIMEOUT), self._changed:
            await self._changed.wait_for(lambda: len(matching()) >= count)
        return matching()[:count]

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


class Live:
    def __init__(
        self, url: str, github: FakeGitHub, gateway: Gateway, repo: FakeRepo, stack: AsyncExitStack
    ) -> None:
        self.url = url
        self.github = github
        self.gateway = gateway
        self.repo = repo
        self._stack = stack
        self.http = httpx.AsyncClient(base_url=url)
        self.hub: Hub

    async def connect(
        self, token: str | None = TOKEN_A, *, offsets: dict[str, str] | None = None
    ) -> Client:
        """A connected client; raises socketio.exceptions.ConnectionError when refused
        (the reason is then in `client.refusal`; use `try_connect` to keep the client)."""
        client = await self.try_connect(token, offsets=offsets)
        if not client.sio.connected:
            raise socketio.exceptions.ConnectionError(f"refused: {client.refusal}")
        return client

    async def try_connect(
        self, token: str | None = TOKEN_A, *, offsets: dict[str, str] | None = None
    ) -> Client:
        client = await open_client(self.url, token, offsets=offsets)
        self._stack.push_async_callback(client.close)
        return client

    async def deliver(self, event: str, payload: dict[str, Any]) -> httpx.Response:
        return await deliver(self.http, event, payload)

    async def issue_event(self, number: int, *, action: str = "edited", title: str = "") -> str:
        """Deliver an `issues` event for octo/hello; the stream id it was stored under."""
        response = await self.deliver("issues", issue_payload(self.repo, number, action, title))
        return str(response.json()["id"])

    def session_token(self, login: str, token: str) -> Callable[[], Any]:
        """A coroutine function issuing a Hubbub session token for `login` (GitHub token
        `token`), as the sign-in callback would."""

        async def issue() -> str:
            callers = self.gateway.callers
            user_id = self.github.tokens()[token][1]
            session, _ = await callers.sessions.create(
                user_id=user_id, login=login, github_token=token
            )
            jwt, _ = callers.tokens.issue(
                user_id=user_id, login=login, session_id=session.session_id
            )
            return jwt

        return issue


async def open_client(
    url: str, token: str | None, *, offsets: dict[str, str] | None = None
) -> Client:
    """A client that tried to connect: `sio.connected`, or the reason in `refusal`."""
    client = Client()
    auth: dict[str, Any] = {}
    if token is not None:
        auth["token"] = token
    if offsets is not None:
        auth["offsets"] = offsets
    with suppress(socketio.exceptions.ConnectionError):
        await client.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=TIMEOUT)
    return client


async def deliver(http: httpx.AsyncClient, event: str, payload: dict[str, Any]) -> httpx.Response:
    """POST a delivery signed as GitHub signs it; it must be accepted."""
    body, headers = signed(event, payload, secret=WEBHOOK_SECRET.encode())
    response = await http.post("/api/webhooks/github", content=body, headers=headers)
    assert response.status_code == 202, response.text
    return response


def issue_payload(repo: FakeRepo, number: int, action: str, title: str) -> dict[str, Any]:
    return {
        "action": action,
        "issue": {
            "number": number,
            "title": title or f"Issue {number}",
            "state": "open",
            "labels": [],
            "html_url": f"https://github.com/{repo.full_name}/issues/{number}",
        },
        "repository": {
            "id": repo.id,
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": {"login": repo.owner},
            "private": repo.private,
        },
        "sender": {"login": "alice"},
    }


def live_settings(**changes: Any) -> Settings:
    base = gateway_settings(
        github_webhook_secret=Secret(WEBHOOK_SECRET),
        session_keys=Secret(new_key_entry("EdDSA", "t")),
        token_keys=Secret("0" * 43 + "="),
        presence_ttl_s=3,
        drain_s=0.2,
    )
    return base.replace(**changes)


LiveFactory = Callable[..., Any]


@pytest_asyncio.fixture
async def make_live() -> AsyncIterator[LiveFactory]:
    """`await make_live(store=None, ws="auto", **settings)`: a running server (`ws`:
    uvicorn's websocket implementation); those of one test may share a store (and so a
    fake GitHub), as machines share a Redis."""
    async with AsyncExitStack() as stack:
        github = FakeGitHub(public_origin=API)
        github.add_user(TOKEN_A, "alice")
        github.add_user(TOKEN_B, "bob")
        github.add_user(TOKEN_C, "carol")
        repo = github.add_repo("octo", "hello", writers=["bob"])
        github.add_repo("octo", "secret", private=True, readers=["alice"])
        github.add_repo("octo", "other")
        github.add_issue("octo", "hello", title="First", number=1)

        async def make(store: Store | None = None, *, ws: str = "auto", **changes: Any) -> Live:
            settings = live_settings(**changes)
            gateway = Gateway(settings, store or EmbeddedStore(), transport=github.transport())
            for token, (login, user_id) in github.tokens().items():
                gateway.callers.remember(token, GitHubUser(user_id, login))
            stack.push_async_callback(gateway.aclose)
            app = create_app(settings, gateway=gateway)
            url = await stack.enter_async_context(serve(app, ws=ws))
            live = Live(url, github, gateway, repo, stack)
            live.hub = app.other_asgi_app.state.hub
            stack.push_async_callback(live.http.aclose)
            return live

        yield make


@pytest_asyncio.fixture
async def live(make_live: LiveFactory) -> Live:
    return await make_live()


# --- JavaScript clients (tests/js, run with node) -----------------------------------

JS_DIR = Path(__file__).parents[1] / "js"


def node_binary(*packages: str) -> str:
    """node's path; skips the test (fails it under CI) when node or one of `packages` of
    tests/js (the socket.io client and yjs unless told) is missing."""
    node = shutil.which("node")
    missing = [
        name
        for name in packages or ("socket.io-client", "yjs")
        if not (JS_DIR / "node_modules" / name).is_dir()
    ]
    if node is None:
        reason = "node is not on PATH"
    elif missing:
        reason = f"tests/js/node_modules lacks {', '.join(missing)} (run: npm ci --prefix tests/js)"
    else:
        return node
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the JavaScript client tests")
    pytest.skip(reason)


class JsClient:
    """tests/js/client.mjs running in node; its stdout is one JSON object per line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.last: dict[str, Any] = {}  # the line `expect` or `until` last read

    async def expect(self, key: str) -> Any:
        """The next line, which must be `{key: value}`; its value."""
        raw = await asyncio.wait_for(self.process.stdout.readline(), TIMEOUT)
        if not raw:
            stderr = await self.process.stderr.read()
            raise AssertionError(f"node exited before {key!r}: {stderr.decode()}")
        line = json.loads(raw)
        assert key in line, line
        self.last = line
        return line[key]

    async def until(self, key: str) -> Any:
        """Skips lines up to the first with `key`; its value."""
        while True:
            raw = await asyncio.wait_for(self.process.stdout.readline(), TIMEOUT)
            if not raw:
                stderr = await self.process.stderr.read()
                raise AssertionError(f"node exited before {key!r}: {stderr.decode()}")
            line = json.loads(raw)
            if key in line:
                self.last = line
                return line[key]

    async def exit_code(self) -> int:
        return await asyncio.wait_for(self.process.wait(), TIMEOUT)


RunJs = Callable[..., Awaitable[JsClient]]


@pytest_asyncio.fixture
async def run_js() -> AsyncIterator[RunJs]:
    node = node_binary()
    processes: list[asyncio.subprocess.Process] = []

    async def run(config: dict[str, Any], script: str = "client.mjs") -> JsClient:
        """Run a script of tests/js with `config`."""
        process = await asyncio.create_subprocess_exec(
            node,
            str(JS_DIR / script),
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


# --- fleets: `hubbub serve` processes on one Redis (tests/realtime/fleet.py) -----------


class Fleet:
    def __init__(self, github: FakeGitHub, github_url: str, stack: AsyncExitStack) -> None:
        self.github = github
        self.github_url = github_url
        self.stack = stack
        self.repo = github.repos["octo/hello"]

    async def machine(self, name: str, redis_url: str, **environ: str) -> Machine:
        from tests.realtime.fleet import Machine  # it reads this module's webhook secret

        machine = Machine(name, redis_url, self.github_url, **environ)
        self.stack.callback(machine.stop)
        return await machine.start()

    async def client(self, machine: Machine, token: str, **options: Any) -> Client:
        client = await open_client(machine.url, token, **options)
        self.stack.push_async_callback(client.close)
        assert client.sio.connected, client.refusal
        return client

    async def issue_event(self, machine: Machine, number: int, title: str) -> str:
        async with httpx.AsyncClient(base_url=machine.url) as http:
            payload = issue_payload(self.repo, number, "edited", title)
            return str((await deliver(http, "issues", payload)).json()["id"])


@pytest_asyncio.fixture
async def fleet() -> AsyncIterator[Fleet]:
    github = FakeGitHub()
    github.add_user(TOKEN_A, "alice")
    github.add_user(TOKEN_B, "bob")
    github.add_user(TOKEN_C, "carol")
    github.add_repo("octo", "hello")
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(serve(github.app))
        yield Fleet(github, url, stack)


async def join(client: Client) -> dict[str, Any]:
    answer = await client.call("join_project", {"repo": "octo/hello"})
    assert answer["ok"], answer
    return answer
