"""The official JavaScript `socket.io-client` (tests/js, run with node) against the real
server: it connects with a GitHub token, joins a project room and receives a webhook's
`github_event` with its stream id; without a token it is refused as `unauthorized`.

This proves the wire protocol works for browsers' client, not only for python-socketio.
Without node or tests/js/node_modules the tests skip; under CI (`CI` set) they fail.
"""

from __future__ import annotations

from tests.proxy.conftest import TOKEN_A
from tests.realtime.conftest import Live, RunJs


async def test_the_js_client_joins_a_project_and_receives_its_github_event(
    run_js: RunJs, live: Live
) -> None:
    js = await run_js({"url": live.url, "token": TOKEN_A, "repo": "octo/hello", "count": 1})
    assert await js.expect("connected") is True
    ack = await js.expect("ack")
    assert ack["ok"] is True
    assert ack["repo"] == "octo/hello"

    stream_id = await live.issue_event(1, title="Seen from JavaScript")
    event = await js.expect("event")
    assert event["id"] == stream_id
    assert event["type"] == "github.issues"
    assert event["repository"]["full_name"] == "octo/hello"
    assert event["subject"]["number"] == 1
    assert event["data"]["title"] == "Seen from JavaScript"
    assert await js.expect("done") is True
    assert await js.exit_code() == 0


async def test_the_js_client_without_a_token_is_refused(run_js: RunJs, live: Live) -> None:
    js = await run_js({"url": live.url, "repo": "octo/hello"})
    refusal = await js.expect("connect_error")
    assert refusal["message"] == "unauthorized"
    assert refusal["data"]["code"] == "token_required"
    assert await js.exit_code() == 0
