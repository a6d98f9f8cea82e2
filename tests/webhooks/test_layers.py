"""Both layers: the serverless receiver over the REST store, and the persistent server's
consumer group applying what a serverless instance stored but never got to apply."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette

from realtime.app import create_app as create_persistent_app
from shared.events import EventBus
from shared.store import Store
from tests.conftest import StoreFactory
from tests.fakes.github import FakeGitHub
from tests.fakes.serving import serve
from tests.proxy.conftest import TOKEN_A, GatewayFactory, auth
from tests.webhooks.conftest import HooksFactory, fixture_payload, secrets, signed
from webhooks.delivery import Delivery
from webhooks.invalidation import scopes_for
from webhooks.summary import envelope_for

ISSUE_EDITED = fixture_payload("issues", "edited")
PATH = f"/repos/{ISSUE_EDITED['repository']['full_name']}/issues/1"


async def test_the_serverless_receiver_works_over_the_rest_store(
    make_hooks: HooksFactory,
    make_gateway: GatewayFactory,
    make_store: StoreFactory,
    upstash_app: Starlette,
    github: FakeGitHub,
    clock: list[int],
) -> None:
    hooks = make_hooks(make_gateway(await make_store("rest"), github_webhook_secret=secrets()))
    github.add_document(PATH, {"n": 1})
    await hooks.client.get(f"/api/github{PATH}", headers=auth(TOKEN_A))

    # The first delivery loads the script into Redis (EVALSHA, NOSCRIPT, EVAL).
    assert (await hooks.deliver("issues", ISSUE_EDITED, delivery="warm")).status_code == 202
    before = len(upstash_app.state.requests)
    response = await hooks.deliver("issues", ISSUE_EDITED, delivery="rest-1")
    # Verify, dedupe, append and invalidate: one request to Upstash, one billed command.
    assert upstash_app.state.requests[before:] == [["EVALSHA"]]
    again = await hooks.deliver("issues", ISSUE_EDITED, delivery="rest-1")

    assert response.status_code == 202 and again.json() == {"duplicate": True}
    assert [entry.envelope.delivery for entry in await hooks.stream()] == ["warm", "rest-1"]
    read = await hooks.client.get(f"/api/github{PATH}", headers=auth(TOKEN_A))
    assert read.headers["x-cache"] == "REVALIDATED"


async def test_the_persistent_consumer_applies_what_a_dead_instance_stored(
    make_gateway: GatewayFactory,
    make_store: StoreFactory,
    github: FakeGitHub,
    clock: list[int],
) -> None:
    store = await make_store("native")
    gateway = make_gateway(store, github_webhook_secret=secrets(), event_claim_idle_ms=200)
    app = create_persistent_app(gateway.settings, gateway=gateway)
    github.add_document(PATH, {"n": 1})
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        await client.get(f"/api/github{PATH}", headers=auth(TOKEN_A))
        # A serverless instance stored the event and died before invalidating.
        delivery = Delivery("issues", "lost-1", "1", ISSUE_EDITED)
        scopes = scopes_for("issues", ISSUE_EDITED)
        bus = EventBus(store, gateway.invalidator.keys)
        await bus.append(envelope_for(delivery), scopes=scopes)
        await _wait_for_key(store, gateway.invalidator.keys.scope_version(scopes[0]))
        read = await client.get(f"/api/github{PATH}", headers=auth(TOKEN_A))
        assert read.headers["x-cache"] == "REVALIDATED"

        # And the persistent server takes deliveries itself (no 4.5 MB platform cap).
        body, headers = signed("issues", ISSUE_EDITED)
        response = await client.post("/api/webhooks/github", content=body, headers=headers)
        assert response.status_code == 202


async def _wait_for_key(store: Store, key: str) -> None:
    async with asyncio.timeout(10):
        while await store.get(key) is None:
            await asyncio.sleep(0.01)
