"""Webhook fixtures: the serverless app with the receiver, and deliveries signed as GitHub
signs them (HMAC-SHA256 over the exact bytes sent)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from starlette.datastructures import Secret

from proxy import Gateway, create_app
from shared.events import StreamEntry
from shared.store.keys import Keys
from tests.proxy.conftest import (  # noqa: F401 - fixtures shared with the gateway tests
    GatewayFactory,
    clock,
    github,
    make_gateway,
)
from webhooks import WebhookEndpoints
from webhooks.signature import sign

SECRET = b"It's a Secret to Everybody"
OLD_SECRET = b"the secret before rotation"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "webhooks"
HOOK_ID = "123456"


def secrets(*values: bytes) -> Secret:
    """GITHUB_WEBHOOK_SECRET's value: a comma-separated list, the first one current."""
    return Secret(",".join(value.decode() for value in values or (SECRET,)))


def fixture_payload(event: str, name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / event / f"{name}.json").read_text(encoding="utf-8"))


def all_fixtures() -> list[tuple[str, str]]:
    return sorted((path.parent.name, path.stem) for path in FIXTURES.glob("*/*.json"))


def signed(
    event: str,
    payload: dict[str, Any] | bytes,
    *,
    secret: bytes = SECRET,
    delivery: str | None = None,
    hook_id: str = HOOK_ID,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a delivery, as GitHub sends them."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/044aadd",
        "x-github-event": event,
        "x-github-delivery": delivery or str(uuid.uuid4()),
        "x-github-hook-id": hook_id,
        "x-github-hook-installation-target-type": "repository",
        "x-github-hook-installation-target-id": "1296269",
        "x-hub-signature-256": sign(body, secret),
    }
    return body, headers


@dataclass
class Hooks:
    """The serverless app with the receiver, and what its Store now holds."""

    client: httpx.AsyncClient
    gateway: Gateway
    keys: Keys

    async def deliver(
        self, event: str, payload: dict[str, Any] | bytes, **options: Any
    ) -> httpx.Response:
        body, headers = signed(event, payload, **options)
        return await self.client.post("/api/webhooks/github", content=body, headers=headers)

    async def stream(self) -> list[StreamEntry]:
        entries = await self.gateway.store.xrange(self.keys.event_stream())
        return [StreamEntry.from_fields(entry_id, fields) for entry_id, fields in entries]


HooksFactory = Callable[..., Hooks]


@pytest_asyncio.fixture
async def make_hooks(make_gateway: GatewayFactory) -> AsyncIterator[HooksFactory]:  # noqa: F811
    clients: list[httpx.AsyncClient] = []

    def make(gateway: Gateway | None = None, **changes: Any) -> Hooks:
        changes.setdefault("github_webhook_secret", secrets(SECRET, OLD_SECRET))
        gateway = gateway or make_gateway(**changes)
        app = create_app(gateway.settings, gateway=gateway, endpoints=[WebhookEndpoints])
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hubbub.test"
        )
        clients.append(client)
        return Hooks(client, gateway, Keys(gateway.settings.key_prefix))

    yield make
    for client in clients:
        await client.aclose()


@pytest_asyncio.fixture
async def hooks(make_hooks: HooksFactory) -> Hooks:
    return make_hooks()
