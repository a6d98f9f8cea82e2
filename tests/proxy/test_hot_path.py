"""The hot path answers fresh in-process hits before routing, exactly as the full path would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from proxy import Gateway, ProxyEndpoints
from proxy.cache_entry import CacheEntry
from proxy.http_app import EXCEPTION_HANDLERS
from shared.store.embedded import EmbeddedStore
from tests.fakes.counting_store import CountingStore
from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A, TOKEN_B, ClientFactory, GatewayFactory, auth

ISSUE = "/api/github/repos/octo/hello/issues/1"
VARYING = {"x-request-id", "date"}


class Resolutions:
    """Counts full identity resolutions: the hot path never makes one."""

    def __init__(self, gateway: Gateway) -> None:
        self.count = 0
        resolve = gateway.callers.resolve

        async def counted(**kwargs: Any) -> Any:
            self.count += 1
            return await resolve(**kwargs)

        gateway.callers.resolve = counted  # type: ignore[method-assign]


def full_path_client(gateway: Gateway) -> httpx.AsyncClient:
    """The same routes and gateway with no hot path in front: the reference answer."""
    app = Starlette(
        routes=ProxyEndpoints(gateway.settings, lambda: gateway).routes(),
        exception_handlers=EXCEPTION_HANDLERS,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hubbub.test")


def comparable(answer: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(k, v) for k, v in answer.headers.multi_items() if k not in VARYING]
    return answer.status_code, headers, answer.content


@pytest.fixture
def gateway(make_gateway: GatewayFactory) -> Gateway:
    return make_gateway()


@pytest.fixture
def client(make_client: ClientFactory, gateway: Gateway) -> httpx.AsyncClient:
    return make_client(gateway)


Request = Callable[[httpx.AsyncClient], Any]


@pytest.mark.parametrize(
    "request_of",
    [
        lambda c: c.get(ISSUE, headers=auth(TOKEN_A)),
        lambda c: c.head(ISSUE, headers=auth(TOKEN_A)),
        lambda c: c.get(
            ISSUE, headers={**auth(TOKEN_A), "Accept": "application/vnd.github.raw+json"}
        ),
        lambda c: c.get(
            "/api/github/repos/octo/hello/issues?per_page=5&state=open", headers=auth(TOKEN_A)
        ),
    ],
    ids=["get", "head", "media-type", "page-with-link"],
)
async def test_a_hot_hit_is_the_full_paths_answer_byte_for_byte(
    client: httpx.AsyncClient, gateway: Gateway, request_of: Request
) -> None:
    await request_of(client)  # MISS, through the full path
    await request_of(client)  # first HIT, shaped for this host by the full path
    resolutions = Resolutions(gateway)

    hot = await request_of(client)
    assert resolutions.count == 0  # answered before routing
    async with full_path_client(gateway) as reference:
        full = await request_of(reference)
    assert resolutions.count == 1

    assert hot.headers["x-cache"] == full.headers["x-cache"] == "HIT"
    # The lease spent one more unit between the two; everything else is identical.
    hot_status, hot_headers, hot_body = comparable(hot)
    full_status, full_headers, full_body = comparable(full)
    assert (hot_status, hot_body) == (full_status, full_body)
    assert [k for k, _ in hot_headers] == [k for k, _ in full_headers]
    differing = {k for (k, v), (_, w) in zip(hot_headers, full_headers, strict=True) if v != w}
    assert differing <= {"ratelimit-remaining"}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_a_matching_etag_is_a_304_on_the_hot_path_too(
    client: httpx.AsyncClient, gateway: Gateway, method: str
) -> None:
    first = await client.get(ISSUE, headers=auth(TOKEN_A))
    await client.get(ISSUE, headers=auth(TOKEN_A))
    conditional = {**auth(TOKEN_A), "If-None-Match": first.headers["etag"]}
    resolutions = Resolutions(gateway)

    hot = await client.request(method, ISSUE, headers=conditional)
    async with full_path_client(gateway) as reference:
        full = await reference.request(method, ISSUE, headers=conditional)

    assert resolutions.count == 1  # only the reference
    assert hot.status_code == full.status_code == 304
    assert hot.content == b""
    assert "content-type" not in hot.headers
    assert [k for k, _ in comparable(hot)[1]] == [k for k, _ in comparable(full)[1]]
    assert hot.headers.get("content-length") == full.headers.get("content-length")
    metrics = gateway.metrics.responses
    assert metrics.labels("HIT", "2xx")._value.get() == 3  # counted as the full path does


async def test_another_token_never_gets_the_entry(
    client: httpx.AsyncClient, github: FakeGitHub
) -> None:
    await client.get(ISSUE, headers=auth(TOKEN_A))
    await client.get(ISSUE, headers=auth(TOKEN_A))
    await client.get("/api/github/user", headers=auth(TOKEN_B))  # bob is remembered too

    bob = await client.get(ISSUE, headers=auth(TOKEN_B))

    assert bob.headers["x-cache"] == "MISS"
    assert github.requests[-1].token == TOKEN_B


async def test_cookies_and_first_sightings_take_the_full_path(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    await client.get(ISSUE, headers=auth(TOKEN_A))
    await client.get(ISSUE, headers=auth(TOKEN_A))
    resolutions = Resolutions(gateway)

    await client.get(ISSUE, headers={**auth(TOKEN_A), "Cookie": "theme=dark"})
    await client.get(ISSUE, headers=auth(TOKEN_B))  # bob, never seen: checked in full

    assert resolutions.count == 2


async def test_the_hot_path_never_admits_past_the_limit(
    make_client: ClientFactory, make_gateway: GatewayFactory
) -> None:
    client = make_client(make_gateway(caller_limit=6, cost_upstream=0, limit_lease_units=3))
    answers = [await client.get(ISSUE, headers=auth(TOKEN_A)) for _ in range(10)]
    assert [a.status_code for a in answers] == [200] * 6 + [429] * 4
    assert [a.headers["ratelimit-remaining"] for a in answers[:6]] == ["5", "4", "3", "2", "1", "0"]


async def test_a_get_with_a_body_takes_the_full_path_and_its_bound(
    make_client: ClientFactory, make_gateway: GatewayFactory
) -> None:
    client = make_client(make_gateway(max_request_body_bytes=10))
    await client.get(ISSUE, headers=auth(TOKEN_A))
    await client.get(ISSUE, headers=auth(TOKEN_A))
    answer = await client.request("GET", ISSUE, headers=auth(TOKEN_A), content=b"x" * 100)
    assert answer.status_code == 413


async def test_many_host_names_do_not_multiply_what_an_entry_keeps(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    for number in range(20):
        headers = {**auth(TOKEN_A), "Host": f"alias{number}.example"}
        answer = await client.get(ISSUE, headers=headers)
        assert answer.json()["url"].startswith(f"http://alias{number}.example/")
    (hot,) = [gateway.hot.get(key, 0) for key in list(gateway.hot._entries)]
    assert hot is not None and len(hot.shaped) <= 4 and len(hot.wire) <= 4


# --- shared-cache hits on the hot path (L1 off, or an entry L1 does not hold) ---------------


@pytest.mark.parametrize(
    "request_of",
    [
        lambda c: c.get(ISSUE, headers=auth(TOKEN_A)),
        lambda c: c.head(ISSUE, headers=auth(TOKEN_A)),
        lambda c: c.get(
            "/api/github/repos/octo/hello/issues?per_page=5&state=open", headers=auth(TOKEN_A)
        ),
    ],
    ids=["get", "head", "page-with-link"],
)
async def test_a_shared_cache_hit_is_the_full_paths_answer_in_one_store_call(
    make_gateway: GatewayFactory, make_client: ClientFactory, request_of: Request
) -> None:
    store = CountingStore(EmbeddedStore())
    gateway = make_gateway(store, l1_ttl_s=0)
    client = make_client(gateway)
    await request_of(client)  # MISS, through the full path
    resolutions = Resolutions(gateway)
    store.calls.clear()

    hot = await request_of(client)
    assert resolutions.count == 0  # answered before routing
    assert dict(store.calls) == {"mget": 1}
    async with full_path_client(gateway) as reference:
        full = await request_of(reference)

    assert hot.headers["x-cache"] == full.headers["x-cache"] == "HIT"
    hot_status, hot_headers, hot_body = comparable(hot)
    full_status, full_headers, full_body = comparable(full)
    assert (hot_status, hot_body) == (full_status, full_body)
    assert [k for k, _ in hot_headers] == [k for k, _ in full_headers]
    differing = {k for (k, v), (_, w) in zip(hot_headers, full_headers, strict=True) if v != w}
    assert differing <= {"ratelimit-remaining", "age"}


async def test_what_the_hot_path_read_is_not_read_again(
    make_gateway: GatewayFactory, make_client: ClientFactory, clock: list[int]
) -> None:
    store = CountingStore(EmbeddedStore())
    client = make_client(make_gateway(store, l1_ttl_s=0))
    await client.get(ISSUE, headers=auth(TOKEN_A))
    clock[0] += 61_000  # stale: the full path revalidates with GitHub
    store.calls.clear()
    revalidated = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert revalidated.headers["x-cache"] == "REVALIDATED"
    assert store.calls["mget"] == 1


async def test_a_shared_cache_hit_fills_l1(
    make_gateway: GatewayFactory, make_client: ClientFactory
) -> None:
    store = CountingStore(EmbeddedStore())
    gateway = make_gateway(store)
    await gateway.start()
    client = make_client(gateway)
    await client.get(ISSUE, headers=auth(TOKEN_A))
    gateway.hot.clear()  # as when another process filled the shared cache
    for _ in range(3):
        assert (await client.get(ISSUE, headers=auth(TOKEN_A))).headers["x-cache"] == "HIT"
    store.calls.clear()
    assert (await client.get(ISSUE, headers=auth(TOKEN_A))).headers["x-cache"] == "HIT"
    assert sum(store.calls.values()) == 0


async def test_with_l1_off_a_stored_entry_is_decoded_once_until_it_changes(
    make_gateway: GatewayFactory,
    make_client: ClientFactory,
    github: FakeGitHub,
    clock: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decodes: list[str | None] = []
    decode = CacheEntry.decode.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(
        CacheEntry,
        "decode",
        classmethod(lambda cls, text: decodes.append(text) or decode(cls, text)),
    )
    gateway = make_gateway(l1_ttl_s=0)
    client = make_client(gateway)
    await client.get(ISSUE, headers=auth(TOKEN_A))  # MISS
    decodes.clear()
    hits = [await client.get(ISSUE, headers=auth(TOKEN_A)) for _ in range(3)]
    assert [hit.headers["x-cache"] for hit in hits] == ["HIT"] * 3
    assert len(decodes) == 1  # every hit read the shared cache; its text was parsed once

    github.edit_issue("octo", "hello", 1, title="Renamed on GitHub")
    clock[0] += 61_000  # stale: the full path revalidates and stores the new entry
    assert (await client.get(ISSUE, headers=auth(TOKEN_A))).headers["x-cache"] == "MISS"
    resolutions = Resolutions(gateway)
    hit = await client.get(ISSUE, headers=auth(TOKEN_A))
    assert resolutions.count == 0  # answered by the hot path, from the new stored text
    assert hit.headers["x-cache"] == "HIT"
    assert hit.json()["title"] == "Renamed on GitHub"
