"""The persistent server: health, readiness, metrics, and the proxy routes beside them."""

from __future__ import annotations

import httpx

from proxy import Gateway
from realtime.app import create_app
from shared.store import Store
from shared.store.embedded import EmbeddedStore
from shared.store.native import NativeStore
from tests.fakes.github import FakeGitHub
from tests.fakes.serving import free_port, serve
from tests.proxy.conftest import API, TOKEN_A, auth, gateway_settings


def make_gateway(
    store: Store | None = None, *, caller_limit: int = 2, **changes: object
) -> Gateway:
    github = FakeGitHub(public_origin=API)
    github.add_user(TOKEN_A, "alice")
    github.add_repo("octo", "hello")
    settings = gateway_settings(caller_limit=caller_limit, cost_upstream=0, **changes)
    return Gateway(settings, store or EmbeddedStore(), transport=github.transport())


async def test_health_readiness_and_metrics() -> None:
    gateway = make_gateway()
    app = create_app(gateway.settings, gateway=gateway)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hubbub.test"
    ) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        await client.get("/api/github/repos/octo/hello", headers=auth(TOKEN_A))
        await client.get("/api/github/repos/octo/hello", headers=auth(TOKEN_A))
        refused = await client.get("/api/github/repos/octo/hello", headers=auth(TOKEN_A))
        metrics = (await client.get("/metrics")).text
    await gateway.aclose()

    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    # Two misses: the token's one check (`GET /user`) and the repository.
    assert 'hubbub_gateway_responses_total{outcome="MISS",status="2xx"} 2.0' in metrics
    assert 'hubbub_gateway_responses_total{outcome="HIT",status="2xx"} 1.0' in metrics
    assert refused.status_code == 429
    assert 'hubbub_gateway_responses_total{outcome="ERROR",status="4xx"} 1.0' in metrics


async def test_under_uvicorn_hot_hits_are_written_straight_to_the_connection() -> None:
    # Behind Socket.IO's ASGI app, as `hubbub serve` runs it (proxy/direct_answer.py).
    # A lease that outlasts the test: a renewal would send a hit to the full path.
    gateway = make_gateway(caller_limit=100, limit_lease_ms=600_000)
    async with (
        serve(create_app(gateway.settings, gateway=gateway)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        answers = [
            await client.get("/api/github/repos/octo/hello", headers=auth(TOKEN_A))
            for _ in range(4)
        ]
        metrics = (await client.get("/metrics")).text
    await gateway.aclose()

    assert [a.headers["x-cache"] for a in answers] == ["MISS", "HIT", "HIT", "HIT"]
    assert len({a.content for a in answers}) == 1
    # The first hit is shaped for this host by the full path; the next two go direct.
    assert "hubbub_gateway_direct_answers_total 2.0" in metrics


async def test_readyz_says_when_the_store_is_unreachable() -> None:
    store = NativeStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout_ms=200)
    gateway = make_gateway(store)
    app = create_app(gateway.settings, gateway=gateway)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hubbub.test"
    ) as client:
        ready = await client.get("/readyz")
    await gateway.aclose()
    await store.aclose()
    assert ready.status_code == 503
