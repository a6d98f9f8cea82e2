"""Hits written straight to uvicorn's transport are the bytes uvicorn's `send` would write.

Two uvicorn servers share one gateway (so one L1): one with the direct answer, one
without. The same raw request to each must come back byte for byte the same, once the
date, the age and the lease's remaining count and reset are masked, whatever the
connection does next (kept alive, pipelined, closed, HTTP/1.0).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest
import pytest_asyncio

import proxy.direct_answer
from proxy import Gateway, create_app
from proxy.direct_answer import DirectAnswers
from shared.logging import uvicorn_log_config
from tests.fakes.serving import serve
from tests.proxy.conftest import TOKEN_A, GatewayFactory

ISSUE = "/api/github/repos/octo/hello/issues/1"
PAGE = "/api/github/repos/octo/hello/issues?per_page=5&state=open"
HEADERS = f"Host: hubbub.test\r\nAuthorization: token {TOKEN_A}\r\nX-Request-Id: req-42\r\n"
MASKED = re.compile(
    rb"^(date|age|ratelimit-remaining|ratelimit-reset): [^\r]*", re.MULTILINE | re.IGNORECASE
)
# A lease that outlasts any test, however slow the machine: a lease to renew sends a hit
# to the full path, which is not what these tests look at.
LONG_LEASE = {"limit_lease_ms": 600_000, "limit_lease_units": 1000}


def request(method: str = "GET", path: str = ISSUE, extra: str = "", version: str = "1.1") -> bytes:
    return f"{method} {path} HTTP/{version}\r\n{HEADERS}{extra}\r\n".encode()


def masked(response: bytes) -> bytes:
    return MASKED.sub(rb"\1: *", response)


def date_of(response: bytes) -> datetime:
    date = re.search(rb"\r\ndate: ([^\r]+)", response)
    assert date is not None
    return parsedate_to_datetime(date.group(1).decode())


def direct_answers(gateway: Gateway) -> float:
    return gateway.metrics.registry.get_sample_value("hubbub_gateway_direct_answers_total") or 0


class Connection:
    """One client connection, reading whole responses (framed by their content-length)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> Connection:
        port = int(base.rsplit(":", 1)[1])
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def response(self, *, has_body: bool = True) -> bytes:
        async with asyncio.timeout(10):
            head = await self.reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"\r\ncontent-length: (\d+)\r\n", head, re.IGNORECASE)
            if not has_body or length is None:
                return head
            return head + await self.reader.readexactly(int(length.group(1)))

    async def closed_by_server(self) -> bool:
        async with asyncio.timeout(10):
            return await self.reader.read() == b""

    async def exchange(self, raw: bytes, *, has_body: bool = True) -> bytes:
        self.writer.write(raw)
        return await self.response(has_body=has_body)

    def close(self) -> None:
        self.writer.close()


Servers = tuple[Gateway, str, str]


@asynccontextmanager
async def serve_both(gateway: Gateway) -> AsyncIterator[Servers]:
    """The gateway, and the bases of a server answering directly and of one that never does."""
    stock = gateway.settings.replace(direct_write=False)
    async with (
        serve(create_app(gateway.settings, gateway=gateway)) as direct,
        serve(create_app(stock, gateway=gateway)) as through_send,
    ):
        yield gateway, direct, through_send


@pytest_asyncio.fixture
async def servers(make_gateway: GatewayFactory) -> AsyncIterator[Servers]:
    async with serve_both(make_gateway(**LONG_LEASE)) as both_servers:
        # A miss, then a hit shaped for this host by the full path: L1 holds it ready.
        for path in (ISSUE, PAGE):
            for _ in range(2):
                connection = await Connection.open(both_servers[1])
                await connection.exchange(request(path=path))
                connection.close()
        yield both_servers


async def both(
    servers: Servers, raw: bytes, *, has_body: bool = True
) -> tuple[bytes, bytes, float]:
    """The same request to each server, each on a new connection; and how many answers
    went direct."""
    gateway, direct, through_send = servers
    before = direct_answers(gateway)
    answers = []
    for base in (direct, through_send):
        connection = await Connection.open(base)
        answers.append(await connection.exchange(raw, has_body=has_body))
        connection.close()
    return answers[0], answers[1], direct_answers(gateway) - before


@pytest.mark.parametrize(
    ("raw", "has_body", "status"),
    [
        (request(), True, b"200"),
        (request(path=PAGE), True, b"200"),
        (request("HEAD"), False, b"200"),
        (request(extra='If-None-Match: "*"\r\n'), False, b"304"),
        (request("HEAD", extra='If-None-Match: "*"\r\n'), False, b"304"),
        (request(extra="Connection: close\r\n"), True, b"200"),
        (request(version="1.0"), True, b"200"),
    ],
    ids=["get", "page-with-link", "head", "get-304", "head-304", "connection-close", "http-1.0"],
)
async def test_a_direct_answer_is_the_bytes_send_writes(
    servers: Servers, raw: bytes, has_body: bool, status: bytes
) -> None:
    if b"If-None-Match" in raw:
        etag = re.search(rb"\r\netag: ([^\r]+)", (await both(servers, request()))[0])
        assert etag is not None
        raw = raw.replace(b'"*"', etag.group(1))

    direct, through_send, went_direct = await both(servers, raw, has_body=has_body)

    assert went_direct == 1
    assert direct.startswith(b"HTTP/1.1 " + status)
    assert b"\r\nx-cache: HIT\r\n" in direct
    assert b"\r\nx-request-id: req-42\r\n" in direct
    assert masked(direct) == masked(through_send)
    assert abs(date_of(direct) - date_of(through_send)) < timedelta(seconds=5)


async def test_a_kept_alive_connection_takes_pipelined_requests(
    servers: Servers,
) -> None:
    gateway, base, _ = servers
    before = direct_answers(gateway)
    connection = await Connection.open(base)
    connection.writer.write(request() + request("HEAD") + request(path=PAGE))
    answers = [
        await connection.response(),
        await connection.response(has_body=False),
        await connection.response(),
    ]
    # And the connection still serves the next one.
    answers.append(await connection.exchange(request()))
    connection.close()

    assert direct_answers(gateway) - before == 4
    assert all(answer.startswith(b"HTTP/1.1 200 OK\r\n") for answer in answers)
    assert masked(answers[0]) == masked(answers[3])
    assert b"\r\ncontent-length: " in answers[1] and answers[1].endswith(b"\r\n\r\n")
    assert b"\r\nlink: " in answers[2]


async def test_a_shared_cache_hit_is_answered_directly_too(make_gateway: GatewayFactory) -> None:
    answer, went_direct = await hit_twice(make_gateway(l1_ttl_s=0, **LONG_LEASE))
    assert answer.headers["x-cache"] == "HIT"
    assert went_direct == 1


async def test_an_entry_with_a_line_uvicorn_must_read_goes_through_send(
    servers: Servers,
) -> None:
    gateway, base, _ = servers
    # As if GitHub had sent a `Connection` header the cache kept: uvicorn reads that line
    # (it may close the connection), so its `send` must write it.
    for hot in gateway.hot._entries.values():
        hot.wire.clear()
        hot.lines.clear()
        for headers, _ in hot.shaped.values():
            headers.append(("Connection", "close"))
    before = direct_answers(gateway)
    connection = await Connection.open(base)
    answer = await connection.exchange(request())

    assert direct_answers(gateway) == before
    assert b"\r\nx-cache: HIT\r\n" in answer
    assert b"\r\nconnection: close\r\n" in answer
    assert await connection.closed_by_server()
    connection.close()
    assert None in {kept for hot in gateway.hot._entries.values() for kept in hot.lines.values()}


def on_host(raw: bytes, host: str) -> bytes:
    return raw.replace(b"Host: hubbub.test", f"Host: {host}".encode())


async def test_a_shared_cache_hit_with_l1_off_is_the_bytes_send_writes_on_each_host(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    joins = []
    lines = DirectAnswers.lines
    monkeypatch.setattr(DirectAnswers, "lines", lambda self, h: joins.append(h) or lines(self, h))
    async with serve_both(make_gateway(l1_ttl_s=0, **LONG_LEASE)) as servers:
        await both(servers, request(path=PAGE))  # the miss
        joins.clear()
        answers = [
            await both(servers, on_host(request(path=PAGE), host))
            for host in ("a.test", "b.test", "a.test", "b.test")
        ]

    for host, (direct, through_send, went_direct) in zip("abab", answers, strict=True):
        assert went_direct == 1
        assert masked(direct) == masked(through_send)
        assert f"://{host}.test/api/github/".encode() in direct  # links for its own host
    # The fixed lines joined once per host (beside uvicorn's own, once a second).
    assert len([h for h in joins if (b"x-cache", b"HIT") in h]) == 2


async def test_a_shared_cache_hit_kept_in_l1_is_the_bytes_send_writes(
    servers: Servers,
) -> None:
    gateway = servers[0]
    gateway.hot.clear()  # as when another process filled the shared cache
    answers = [await both(servers, request()) for _ in range(2)]
    assert [went_direct for *_, went_direct in answers] == [1, 1]  # from L2, then from L1
    for direct, through_send, _ in answers:
        assert masked(direct) == masked(through_send)


@pytest.mark.parametrize("raw", [request(extra="Connection: close\r\n"), request(version="1.0")])
async def test_the_server_closes_after_a_direct_answer_when_asked(
    servers: Servers, raw: bytes
) -> None:
    _, base, _ = servers
    connection = await Connection.open(base)
    answer = await connection.exchange(raw)
    assert b"\r\nconnection: close\r\n" in answer
    assert await connection.closed_by_server()
    connection.close()


async def hit_twice(
    app_gateway: Gateway, *, headers: dict[str, str] | None = None, **options: object
) -> tuple[httpx.Response, float]:
    """A miss, a shaping hit and a hit through a server built with `options`; the last
    answer, and how many answers went direct."""
    settings = app_gateway.settings
    sent = {"Authorization": f"token {TOKEN_A}", **(headers or {})}
    async with AsyncExitStack() as stack:
        base = await stack.enter_async_context(
            serve(create_app(settings, gateway=app_gateway), **options)
        )
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=base))
        await client.get(ISSUE, headers=sent)
        await client.get(ISSUE, headers=sent)
        before = direct_answers(app_gateway)
        answer = await client.get(ISSUE, headers=sent)
    return answer, direct_answers(app_gateway) - before


@pytest.mark.parametrize("origin", ["https://dash.example", None])
async def test_with_cross_origin_callers_allowed_cors_decorates_every_hit(
    make_gateway: GatewayFactory, origin: str | None
) -> None:
    # Starlette's CORS middleware adds to every answer (`Vary: Origin` even without an
    # Origin), so its `send` sees them all.
    gateway = make_gateway(allowed_origins=("https://dash.example",), **LONG_LEASE)
    answer, went_direct = await hit_twice(gateway, headers={"Origin": origin} if origin else {})
    assert answer.headers["x-cache"] == "HIT"
    assert "origin" in answer.headers["vary"].lower()
    if origin:
        assert answer.headers["access-control-allow-origin"] == origin
    assert went_direct == 0


@pytest.mark.parametrize(
    ("changes", "options"),
    [
        ({"direct_write": False}, {}),
        ({}, {"http": "h11"}),
        ({}, {"access_log": True, "log_level": "info"}),
    ],
    ids=["switched-off", "h11", "access-log"],
)
async def test_a_hit_goes_through_send_where_a_direct_answer_does_not_apply(
    make_gateway: GatewayFactory, changes: dict[str, object], options: dict[str, object]
) -> None:
    answer, went_direct = await hit_twice(make_gateway(**changes, **LONG_LEASE), **options)
    assert answer.status_code == 200
    assert answer.headers["x-cache"] == "HIT"
    assert went_direct == 0


async def test_other_versions_of_uvicorn_go_through_send(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(proxy.direct_answer.SUPPORTED, "uvicorn", "0.0.1")
    with caplog.at_level(logging.INFO, logger="hubbub.http"):
        answer, went_direct = await hit_twice(make_gateway(**LONG_LEASE))
    assert answer.headers["x-cache"] == "HIT"
    assert went_direct == 0
    assert "the direct answer knows 0.0.1" in caplog.text


async def test_with_hubbub_devs_logging_hits_go_direct(make_gateway: GatewayFactory) -> None:
    # `hubbub dev` keeps uvicorn's access log on, but its logger at WARNING: no line would
    # be written, so the direct answer applies.
    dev = uvicorn_log_config("info", "text")
    loggers = dev["loggers"]
    assert isinstance(loggers, dict)
    # Only uvicorn's loggers (the next server's own configuration resets them): the
    # rest of the suite keeps its own logging.
    config = {**dev, "loggers": {k: v for k, v in loggers.items() if k.startswith("uvicorn")}}
    gateway = make_gateway(**LONG_LEASE)
    answer, went_direct = await hit_twice(
        gateway, access_log=True, log_config=config, log_level=None
    )
    assert answer.headers["x-cache"] == "HIT"
    assert went_direct == 1
