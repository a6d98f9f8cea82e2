"""The receiver's contract with GitHub: what is accepted, what is refused, what is stored."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from tests.webhooks.conftest import (
    HOOK_ID,
    OLD_SECRET,
    SECRET,
    Hooks,
    HooksFactory,
    fixture_payload,
    secrets,
    signed,
)
from webhooks.signature import matching_secret, sign

ISSUE_EDITED = fixture_payload("issues", "edited")


def test_githubs_published_test_vector() -> None:
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(b"Hello, World!", SECRET) == expected
    assert matching_secret(b"Hello, World!", expected.encode(), [SECRET]) == 0


async def test_a_signed_delivery_is_stored_and_answered_202(hooks: Hooks) -> None:
    response = await hooks.deliver("issues", ISSUE_EDITED, delivery="d-1")
    assert response.status_code == 202
    assert response.headers["content-type"] == "application/json"
    (entry,) = await hooks.stream()
    assert response.json() == {"accepted": True, "id": entry.id}
    envelope = entry.envelope
    assert envelope.type == "github.issues" and envelope.action == "edited"
    assert envelope.repository is not None
    assert envelope.repository.full_name == ISSUE_EDITED["repository"]["full_name"]
    assert envelope.repository.id == ISSUE_EDITED["repository"]["id"]
    assert envelope.subject is not None and envelope.subject.number == 1
    assert envelope.delivery == "d-1"
    assert envelope.actor == ISSUE_EDITED["sender"]["login"]
    assert envelope.data["title"] == ISSUE_EDITED["issue"]["title"]


async def test_the_previous_secret_still_verifies_during_rotation(hooks: Hooks) -> None:
    response = await hooks.deliver("issues", ISSUE_EDITED, secret=OLD_SECRET)
    assert response.status_code == 202


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "missing", "sha1 only", "not hex", "non-ascii", "body changed", "truncated"],
)
async def test_an_unverifiable_delivery_is_refused_and_stores_nothing(
    hooks: Hooks, tamper: str
) -> None:
    body, headers = signed("issues", ISSUE_EDITED)
    if tamper == "wrong secret":
        headers["x-hub-signature-256"] = sign(body, b"guess")
    elif tamper == "missing":
        del headers["x-hub-signature-256"]
    elif tamper == "sha1 only":
        del headers["x-hub-signature-256"]
        headers["x-hub-signature"] = "sha1=" + "0" * 40
    elif tamper == "not hex":
        headers["x-hub-signature-256"] = "sha256=zz"
    elif tamper == "non-ascii":
        headers["x-hub-signature-256"] = "sha256=é"
    elif tamper == "body changed":
        body = body.replace(b'"edited"', b'"deleted"')
    elif tamper == "truncated":
        body = body[: len(body) // 2]
    encoded = {k: v.encode("utf-8") if k.startswith("x-hub") else v for k, v in headers.items()}
    response = await hooks.client.post("/api/webhooks/github", content=body, headers=encoded)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert await hooks.stream() == []


async def test_a_delivery_is_deduplicated_per_hook(hooks: Hooks) -> None:
    first = await hooks.deliver("issues", ISSUE_EDITED, delivery="same")
    again = await hooks.deliver("issues", ISSUE_EDITED, delivery="same")
    other_hook = await hooks.deliver("issues", ISSUE_EDITED, delivery="same", hook_id="999")
    assert first.status_code == 202
    assert again.status_code == 200 and again.json() == {"duplicate": True}
    # GitHub sends one delivery id to every hook on the event: each hook's copy counts.
    assert other_hook.status_code == 202
    assert len(await hooks.stream()) == 2
    ttl_ms = await hooks.gateway.store.pttl(hooks.keys.webhook_delivery(HOOK_ID, "same"))
    assert ttl_ms > 4 * 86_400_000


async def test_racing_redeliveries_are_stored_once(hooks: Hooks) -> None:
    import asyncio

    responses = await asyncio.gather(
        *(hooks.deliver("issues", ISSUE_EDITED, delivery="race") for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [200] * 9 + [202]
    assert len(await hooks.stream()) == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"\xff", "application/json"),
        (b"payload", "application/x-www-form-urlencoded"),
    ],
)
async def test_signed_but_malformed_is_400_and_stores_nothing(
    hooks: Hooks, body: bytes, content_type: str
) -> None:
    _, headers = signed("issues", body, delivery="bad")
    headers["content-type"] = content_type
    response = await hooks.client.post("/api/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert await hooks.stream() == []
    # Nothing was marked seen either: a corrected redelivery is accepted.
    assert await hooks.deliver("issues", ISSUE_EDITED, delivery="bad") is not None
    assert len(await hooks.stream()) == 1


@pytest.mark.parametrize("header", ["x-github-event", "x-github-delivery"])
async def test_a_missing_required_header_is_400(hooks: Hooks, header: str) -> None:
    body, headers = signed("issues", ISSUE_EDITED)
    del headers[header]
    response = await hooks.client.post("/api/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_header"
    assert await hooks.stream() == []


async def test_an_unsupported_content_type_is_415(hooks: Hooks) -> None:
    body, headers = signed("issues", ISSUE_EDITED)
    headers["content-type"] = "text/plain"
    response = await hooks.client.post("/api/webhooks/github", content=body, headers=headers)
    assert response.status_code == 415


async def test_a_form_encoded_delivery_is_accepted(hooks: Hooks) -> None:
    body = httpx.QueryParams({"payload": json.dumps(ISSUE_EDITED)}).__str__().encode()
    _, headers = signed("issues", body)
    headers["content-type"] = "application/x-www-form-urlencoded"
    response = await hooks.client.post("/api/webhooks/github", content=body, headers=headers)
    assert response.status_code == 202
    assert (await hooks.stream())[0].envelope.action == "edited"


async def test_ping_is_answered_200_and_not_stored(hooks: Hooks) -> None:
    response = await hooks.deliver("ping", fixture_payload("ping", "payload"))
    assert response.status_code == 200 and response.json()["ok"] is True
    assert await hooks.stream() == []


async def test_an_unknown_event_is_published_without_invalidation(hooks: Hooks) -> None:
    payload = {"action": "happened", "repository": ISSUE_EDITED["repository"], "sender": {}}
    response = await hooks.deliver("space_elevator", payload)
    assert response.status_code == 202
    (entry,) = await hooks.stream()
    assert entry.envelope.type == "github.space_elevator"
    assert entry.scopes == ()


async def test_an_oversize_delivery_is_413_and_stores_nothing(
    make_hooks: HooksFactory,
) -> None:
    hooks = make_hooks(webhook_max_body_bytes=1000)
    big = {**ISSUE_EDITED, "padding": "x" * 2000}
    response = await hooks.deliver("issues", big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert await hooks.stream() == []

    # Streamed without a Content-Length, the cap holds while reading.
    body, headers = signed("issues", big)

    async def chunks():
        for start in range(0, len(body), 256):
            yield body[start : start + 256]

    response = await hooks.client.post("/api/webhooks/github", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert await hooks.stream() == []


async def test_with_no_secret_configured_every_delivery_is_refused(
    make_hooks: HooksFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hubbub.webhooks"):
        hooks = make_hooks(github_webhook_secret=None)
    assert "GITHUB_WEBHOOK_SECRET is not set" in caplog.text
    response = await hooks.deliver("issues", ISSUE_EDITED)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "webhooks_not_configured"
    assert await hooks.stream() == []


async def test_only_get_is_refused_other_than_post(hooks: Hooks) -> None:
    response = await hooks.client.get("/api/webhooks/github")
    assert response.status_code == 405


async def test_logs_never_hold_headers_bodies_or_secrets(
    hooks: Hooks, caplog: pytest.LogCaptureFixture
) -> None:
    leaky = {**ISSUE_EDITED, "issue": {**ISSUE_EDITED["issue"], "body": "BODY-CANARY"}}
    body, headers = signed("issues", leaky, delivery="log-1")
    headers["x-github-encoded-secret"] = "SECRET-CANARY"
    with caplog.at_level(logging.DEBUG):
        await hooks.client.post("/api/webhooks/github", content=body, headers=headers)
        headers["x-hub-signature-256"] = sign(body, b"wrong")
        await hooks.client.post("/api/webhooks/github", content=body, headers=headers)
    text = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for canary in ("BODY-CANARY", "SECRET-CANARY", SECRET.decode(), headers["x-hub-signature-256"]):
        assert canary not in text
    accepted = next(r for r in caplog.records if getattr(r, "outcome", "") == "accepted")
    assert accepted.delivery == "log-1" and accepted.event == "issues"  # type: ignore[attr-defined]


async def test_a_delivery_cut_off_mid_body_stores_nothing(hooks: Hooks) -> None:
    app = hooks.client._transport.app  # type: ignore[attr-defined]
    body, headers = signed("issues", ISSUE_EDITED)
    messages = [
        {"type": "http.request", "body": body[:100], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/webhooks/github",
        "raw_path": b"/api/webhooks/github",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()]
        + [(b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1234),
        "server": ("hubbub.test", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert await hooks.stream() == []


async def test_an_unreachable_store_answers_503_so_github_records_a_failure(
    make_hooks: HooksFactory, make_gateway
) -> None:
    from shared.store.native import NativeStore
    from tests.fakes.serving import free_port

    store = NativeStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout_ms=200)
    hooks = make_hooks(make_gateway(store, github_webhook_secret=secrets()))
    response = await hooks.deliver("issues", ISSUE_EDITED)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
    await store.aclose()


async def test_an_unsigned_request_is_refused_before_its_body_is_read(hooks: Hooks) -> None:
    body, headers = signed("issues", ISSUE_EDITED)
    del headers["x-hub-signature-256"]
    headers["content-length"] = str(10**12)  # never read: refused on its headers
    request = hooks.client.build_request(
        "POST", "/api/webhooks/github", content=body, headers=headers
    )
    response = await hooks.client.send(request)
    assert response.status_code == 401
    assert await hooks.stream() == []
