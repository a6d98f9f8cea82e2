"""Connecting: refusals with reasons a client can show, throttling, and tokens that expire
or end while the socket is open."""

from __future__ import annotations

from typing import Any

from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import Live, LiveFactory


async def test_a_connection_without_a_token_is_refused(live: Live) -> None:
    client = await live.try_connect(None)
    assert not client.sio.connected
    assert client.refusal == {
        "message": "unauthorized",
        "data": {"code": "token_required", "message": "auth.token is required"},
    }


async def test_a_token_github_does_not_accept_is_refused(live: Live) -> None:
    client = await live.try_connect("ghp_" + "x" * 36)
    assert client.refusal["message"] == "unauthorized"
    assert client.refusal["data"]["code"] == "bad_credentials"


async def test_an_expired_session_token_is_refused_as_expired(live: Live) -> None:
    tokens = live.gateway.callers.tokens
    ttl = tokens.ttl_s
    tokens.ttl_s = -3600
    try:
        expired = await live.session_token("alice", TOKEN_A)()
    finally:
        tokens.ttl_s = ttl
    client = await live.try_connect(expired)
    assert client.refusal["message"] == "token_expired"
    assert client.refusal["data"]["code"] == "token_expired"


async def test_connects_over_the_limit_are_refused_as_rate_limited(
    make_live: LiveFactory,
) -> None:
    live = await make_live(connect_limit=2)
    await live.connect(TOKEN_A)
    await live.connect(TOKEN_B)
    third = await live.try_connect(TOKEN_A)
    assert third.refusal["message"] == "rate_limited"
    assert third.refusal["data"]["code"] == "rate_limited"
    assert third.refusal["data"]["retry_after_ms"] > 0


async def test_a_session_token_works_and_its_holder_is_asked_to_refresh(
    make_live: LiveFactory,
) -> None:
    # A token living 2 s is inside the 60 s notice at once.
    live = await make_live(session_ttl_s=2)
    issue = live.session_token("alice", TOKEN_A)
    alice = await live.connect(await issue())
    assert (await alice.call("join_project", {"repo": "octo/hello"}))["ok"]

    [notice] = await alice.wait_for("auth:expiring")
    assert 0 < notice["expires_in_ms"] <= 2000
    refreshed = await alice.call("auth:refresh", {"token": await issue()})
    assert refreshed["ok"] is True
    assert refreshed["expires_at"] > 0
    # Asked again about the new token, still connected: the first expiry did not end it.
    await alice.wait_for("auth:expiring", count=2)
    assert alice.sio.connected


async def test_a_socket_whose_token_expires_unrefreshed_is_disconnected(
    make_live: LiveFactory,
) -> None:
    live = await make_live(session_ttl_s=1)
    alice = await live.connect(await live.session_token("alice", TOKEN_A)())
    [ended] = await alice.wait_for("auth:ended")
    assert ended["code"] == "token_expired"
    await alice.disconnected.wait()


async def test_a_refresh_must_be_for_the_same_user(make_live: LiveFactory) -> None:
    live = await make_live()
    alice = await live.connect(await live.session_token("alice", TOKEN_A)())
    answer: dict[str, Any] = await alice.call(
        "auth:refresh", {"token": await live.session_token("bob", TOKEN_B)()}
    )
    assert answer["error"]["code"] == "user_mismatch"
    bad = await alice.call("auth:refresh", {"token": "not a token"})
    assert bad["ok"] is False
    # Her own GitHub token would outlive the session's logout and expiry.
    github_token = await alice.call("auth:refresh", {"token": TOKEN_A})
    assert github_token["error"]["code"] == "user_mismatch"


async def test_a_logout_elsewhere_disconnects_the_session_s_sockets(live: Live) -> None:
    token = await live.session_token("alice", TOKEN_A)()
    alice = await live.connect(token)
    bob = await live.connect(TOKEN_B)
    session_id = live.gateway.callers.tokens.verify(token).session_id
    await live.gateway.end_session(session_id)
    [ended] = await alice.wait_for("auth:ended")
    assert ended["code"] == "token_revoked"
    await alice.disconnected.wait()
    assert bob.sio.connected


async def test_a_session_that_ended_unannounced_is_found_and_its_sockets_closed(
    live: Live,
) -> None:
    token = await live.session_token("alice", TOKEN_A)()
    alice = await live.connect(token)
    session_id = live.gateway.callers.tokens.verify(token).session_id
    # Gone from the Store without the announcement (this machine was cut off meanwhile).
    await live.gateway.store.delete(live.gateway.keys.session(session_id))
    live.hub.session_recheck_s = 0
    [ended] = await alice.wait_for("auth:ended")
    assert ended["code"] == "token_revoked"
    await alice.disconnected.wait()
