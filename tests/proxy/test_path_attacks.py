"""Every path attack of the guard's table, sent as raw bytes to the app: 400, and GitHub
never hears of it. Raw ASGI scopes, because an HTTP client would normalise the very
paths under test (httpx resolves `..` before sending)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from starlette.types import Message

from proxy import create_app
from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A
from tests.proxy.test_target import ATTACKS


async def _send_raw(app, raw_path: bytes, query: bytes) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path.decode("latin-1")),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"hubbub.test"), (b"authorization", f"token {TOKEN_A}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


# The bare prefix is the API root, a valid request; every other entry is an attack.
HTTP_ATTACKS = [attack for attack in ATTACKS if attack[0]]


@pytest.mark.parametrize(("path", "query", "rule"), HTTP_ATTACKS)
async def test_a_path_attack_is_a_400_and_never_reaches_github(
    make_gateway, github: FakeGitHub, path: str, query: str, rule: str
) -> None:
    gateway = make_gateway()
    app = create_app(gateway.settings, gateway=gateway)
    raw = b"/api/github" + path.encode("utf-8")
    status = await _send_raw(app, raw, query.encode("utf-8"))
    if path.startswith("/"):
        assert status == 400
    else:
        # Glued to the prefix these are not proxy routes at all.
        assert status in (400, 404)
    assert github.count() == 0
