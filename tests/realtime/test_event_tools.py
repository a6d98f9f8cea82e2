"""`hubbub webhooks send` signs as GitHub does; `hubbub events tail` prints what arrives."""

from __future__ import annotations

import asyncio
import json

import pytest

from proxy import create_app
from realtime.cli import build_parser
from realtime.event_tools import send_delivery, tail_events
from shared.events import Envelope, EventBus, Repository
from shared.store import Store
from shared.store.keys import Keys
from tests.fakes.serving import serve
from tests.proxy.conftest import GatewayFactory, github, make_gateway  # noqa: F401
from tests.webhooks.conftest import FIXTURES, SECRET, secrets
from webhooks import WebhookEndpoints


@pytest.mark.parametrize("command", [["events", "tail"], ["webhooks", "send"]])
def test_the_operator_commands_explain_themselves(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert len(capsys.readouterr().out) > 100


async def test_send_delivers_a_payload_the_receiver_accepts(
    make_gateway: GatewayFactory,  # noqa: F811
) -> None:
    gateway = make_gateway(github_webhook_secret=secrets())
    app = create_app(gateway.settings, gateway=gateway, endpoints=[WebhookEndpoints])
    body = (FIXTURES / "issues" / "opened.json").read_bytes()
    async with serve(app) as base:
        response = await send_delivery(f"{base}/api/webhooks/github", "issues", body, SECRET)
        refused = await send_delivery(f"{base}/api/webhooks/github", "issues", body, b"wrong")
    assert response.status_code == 202
    assert refused.status_code == 401
    entries = await gateway.store.xrange(Keys().event_stream())
    assert len(entries) == 1


@pytest.mark.parametrize("backend", ["native", "rest"])
async def test_tail_prints_new_events_for_the_chosen_repository(store: Store, backend: str) -> None:
    keys = Keys("t:")
    bus = EventBus(store, keys)
    old = await bus.append(Envelope(type="github.old", repository=Repository(1, "octo/hello")))
    assert old is not None
    lines: list[str] = []
    tail = asyncio.create_task(
        tail_events(store, keys, repo="Octo/Hello", count=2, since=old.id, write=lines.append)
    )
    await bus.append(Envelope(type="github.other", repository=Repository(2, "octo/other")))
    await bus.append(Envelope(type="github.issues", repository=Repository(1, "octo/hello")))
    await bus.append(Envelope(type="github.push", repository=Repository(1, "octo/hello")))
    async with asyncio.timeout(10):
        await tail
    assert [json.loads(line)["type"] for line in lines] == ["github.issues", "github.push"]
