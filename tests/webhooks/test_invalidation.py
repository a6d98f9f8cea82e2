"""Every event in the table, delivered as GitHub sends it, makes stale what the table says,
and nothing else — shown by what the next read through the gateway asks GitHub."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A, auth
from tests.webhooks.conftest import Hooks, HooksFactory, all_fixtures, fixture_payload, signed
from webhooks.invalidation import HANDLED_EVENTS, markdown_table, scopes_for

DOCS = Path(__file__).parent.parent.parent / "docs" / "webhooks.md"
CONTROL = "/repos/unrelated/elsewhere/issues/1"


def sample_path(scope: str) -> str:
    """A read whose answer lies in `scope` (names such as labels may need escaping)."""
    if scope.endswith("/*"):
        scope = scope[:-1] + "probe/1"
    return "/" + quote(scope, safe="/")


async def prime(hooks: Hooks, github: FakeGitHub, paths: list[str]) -> None:
    for path in [*paths, CONTROL]:
        github.add_document(path, {"path": path})
        response = await hooks.client.get(f"/api/github{path}", headers=auth(TOKEN_A))
        assert response.status_code == 200, path
        again = await hooks.client.get(f"/api/github{path}", headers=auth(TOKEN_A))
        assert again.headers["x-cache"] == "HIT", path


async def states(hooks: Hooks, paths: list[str]) -> dict[str, str]:
    found = {}
    for path in paths:
        response = await hooks.client.get(f"/api/github{path}", headers=auth(TOKEN_A))
        found[path] = response.headers["x-cache"]
    return found


def test_the_documented_table_is_the_table_the_code_applies() -> None:
    assert markdown_table() in DOCS.read_text(encoding="utf-8")


def test_every_event_in_the_table_has_a_real_payload_fixture() -> None:
    assert {event for event, _ in all_fixtures()} >= HANDLED_EVENTS


@pytest.mark.parametrize(("event", "name"), all_fixtures())
async def test_each_real_delivery_is_stored_and_invalidates_its_scopes(
    hooks: Hooks, github: FakeGitHub, clock: list[int], event: str, name: str
) -> None:
    payload = fixture_payload(event, name)
    paths = sorted({sample_path(scope) for scope in scopes_for(event, payload)})
    await prime(hooks, github, paths)
    upstream_before = github.count()

    response = await hooks.deliver(event, payload)

    if event == "ping":
        assert response.status_code == 200
        assert await hooks.stream() == []
        return
    assert response.status_code == 202
    (entry,) = await hooks.stream()
    assert entry.envelope.type == f"github.{event}"
    assert entry.envelope.action == payload.get("action")
    after = await states(hooks, [*paths, CONTROL])
    assert after == {**dict.fromkeys(paths, "REVALIDATED"), CONTROL: "HIT"}
    # Each revalidation was one conditional request, answered 304 for free.
    assert github.count() - upstream_before == len(paths)
    if event in HANDLED_EVENTS and event != "installation":
        assert paths, "a handled event must invalidate something"


def repo_of(payload: dict[str, Any]) -> str:
    return payload["repository"]["full_name"]


# (event, fixture) -> reads that must revalidate, reads that must stay fresh; written by
# hand from GitHub's documentation of what each event changes, not from the table.
EXPECTATIONS: list[tuple[str, str, list[str], list[str]]] = [
    (
        "issues",
        "edited",
        ["/repos/{R}/issues/1", "/repos/{R}/issues/1/comments", "/repos/{R}/issues"],
        ["/repos/{R}/issues/2", "/repos/{R}/contents/README.md", "/repos/{R}/pulls/7"],
    ),
    (
        "issue_comment",
        "created",
        ["/repos/{R}/issues/1/comments", "/repos/{R}/issues/comments", "/repos/{R}/issues/1"],
        ["/repos/{R}/issues/2/comments", "/repos/{R}/labels"],
    ),
    (
        "pull_request",
        "opened",
        [
            "/repos/{R}/pulls/2",
            "/repos/{R}/pulls/2/files",
            "/repos/{R}/issues/2",
            "/repos/{R}/pulls",
        ],
        ["/repos/{R}/pulls/3", "/repos/{R}/commits"],
    ),
    (
        "pull_request",
        "closed",  # closed without merging: the base branch did not move
        ["/repos/{R}/pulls/2", "/repos/{R}/issues"],
        ["/repos/{R}/commits", "/repos/{R}/branches/main"],
    ),
    (
        "push",
        "payload",
        [
            "/repos/{R}/contents/README.md",
            "/repos/{R}/commits",
            "/repos/{R}/git/ref/heads/main",
            "/repos/{R}/tags",
            "/repos/{R}",
        ],
        ["/repos/{R}/issues/1", "/repos/{R}/pulls"],
    ),
    (
        "label",
        "edited",  # labels are embedded in issues
        ["/repos/{R}/issues/1", "/repos/{R}/labels", "/repos/{R}/pulls/3"],
        [CONTROL],
    ),
    ("label", "created", ["/repos/{R}/labels"], ["/repos/{R}/issues/1"]),
    (
        "issues",
        "opened",  # in milestone 1: its open-issue count changed
        ["/repos/{R}/milestones/1", "/repos/{R}/issues", "/repos/{R}"],
        ["/repos/{R}/issues/2", "/repos/{R}/milestones/2"],
    ),
    ("milestone", "created", ["/repos/{R}/milestones"], ["/repos/{R}/issues/1"]),
    (
        "release",
        "published",
        ["/repos/{R}/releases/latest", "/repos/{R}/releases/tags/0.0.1", "/repos/{R}/releases"],
        ["/repos/{R}/issues/1"],
    ),
    (
        "repository",
        "transferred",
        ["/repos/octocat/Hello-World/issues/1", "/repos/{R}/contents/a.md", "/users/octocat/repos"],
        [CONTROL],
    ),
    ("member", "added", ["/repos/{R}/issues/1", "/repos/{R}/contents/a.md"], [CONTROL]),
    (
        "membership",
        "added",
        ["/repos/Octocoders/any-repo/issues/1", "/orgs/Octocoders/teams"],
        ["/repos/Codertocat/Hello-World/issues/1"],
    ),
    ("star", "created", ["/repos/{R}", "/repos/{R}/stargazers"], ["/repos/{R}/issues/1"]),
    (
        "status",
        "payload",
        ["/repos/{R}/commits/6113728f27ae82c7b1a177c8d03f9e96e0adf246/status"],
        ["/repos/{R}/issues/1"],
    ),
    (
        "check_run",
        "completed",
        ["/repos/{R}/commits/ec26c3e57ca3a959ca5aad62de7213c562f8c821/check-runs"],
        ["/repos/{R}/issues/1"],
    ),
    (
        "workflow_run",
        "completed",
        ["/repos/{R}/actions/runs/289782451"],
        ["/repos/{R}/issues/1"],
    ),
    (
        "issues",
        "transferred",
        ["/repos/{R}/issues/1", "/repos/Codertocat/Hello-World/issues/1"],
        ["/repos/{R}/issues/2"],
    ),
    (
        "sub_issues",
        "sub_issue_added",
        ["/repos/{R}/issues/1/sub_issues", "/repos/{R}/issues/2/parent"],
        ["/repos/{R}/issues/3"],
    ),
]


@pytest.mark.parametrize(
    ("event", "name", "stale", "fresh"),
    EXPECTATIONS,
    ids=[f"{event}.{name}" for event, name, _, _ in EXPECTATIONS],
)
async def test_what_github_changed_is_revalidated_and_nothing_more(
    hooks: Hooks,
    github: FakeGitHub,
    clock: list[int],
    event: str,
    name: str,
    stale: list[str],
    fresh: list[str],
) -> None:
    payload = fixture_payload(event, name)
    full_name = repo_of(payload) if "repository" in payload else ""
    stale = [path.format(R=full_name) for path in stale]
    fresh = [path.format(R=full_name) for path in fresh]
    await prime(hooks, github, stale + fresh)

    assert (await hooks.deliver(event, payload)).status_code == 202

    assert await states(hooks, stale + fresh) == {
        **dict.fromkeys(stale, "REVALIDATED"),
        **dict.fromkeys(fresh, "HIT"),
    }


async def test_installation_changes_reach_every_repository_they_list(
    hooks: Hooks, github: FakeGitHub, clock: list[int]
) -> None:
    payload = fixture_payload("installation_repositories", "added")
    added = [repo["full_name"] for repo in payload["repositories_added"]]
    paths = [f"/repos/{name}/issues/1" for name in added]
    await prime(hooks, github, paths)
    assert (await hooks.deliver("installation_repositories", payload)).status_code == 202
    assert await states(hooks, [*paths, CONTROL]) == {
        **dict.fromkeys(paths, "REVALIDATED"),
        CONTROL: "HIT",
    }


async def test_a_rename_reaches_entries_under_the_old_name(
    hooks: Hooks, github: FakeGitHub, clock: list[int]
) -> None:
    payload = fixture_payload("repository", "renamed")
    old = payload["repository"]["full_name"]  # GitHub's example keeps the old name here
    owner = payload["repository"]["owner"]["login"]
    renamed = {
        **payload,
        "repository": {
            **payload["repository"],
            "name": "Hello-Mars",
            "full_name": f"{owner}/Hello-Mars",
        },
    }
    stale = [f"/repos/{old}/issues/1", f"/repos/{owner}/Hello-Mars/issues/1", "/user/repos"]
    await prime(hooks, github, stale)
    assert (await hooks.deliver("repository", renamed)).status_code == 202
    assert await states(hooks, [*stale, CONTROL]) == {
        **dict.fromkeys(stale, "REVALIDATED"),
        CONTROL: "HIT",
    }


async def test_events_after_a_rename_also_reach_entries_under_the_old_name(
    hooks: Hooks, github: FakeGitHub, clock: list[int]
) -> None:
    # The rename event itself was lost; an event seen before it recorded the old name.
    before = fixture_payload("issues", "edited")
    assert (await hooks.deliver("issues", before)).status_code == 202
    old = repo_of(before)
    after = {**before, "repository": {**before["repository"], "full_name": "Codertocat/Renamed"}}
    await prime(hooks, github, [f"/repos/{old}/issues/1"])
    assert (await hooks.deliver("issues", after)).status_code == 202
    assert await states(hooks, [f"/repos/{old}/issues/1"]) == {
        f"/repos/{old}/issues/1": "REVALIDATED"
    }


async def test_an_answer_just_after_an_event_is_checked_again_soon(
    hooks: Hooks, github: FakeGitHub, clock: list[int]
) -> None:
    """GitHub's API can lag its webhooks: a 304 right after the event must not buy the
    entry a full fresh window."""
    payload = fixture_payload("issues", "edited")
    path = f"/repos/{repo_of(payload)}/issues/1"
    await prime(hooks, github, [path])
    await hooks.deliver("issues", payload)
    clock[0] += 500
    assert (await states(hooks, [path]))[path] == "REVALIDATED"  # GitHub still lags: 304
    clock[0] += 500
    assert (await states(hooks, [path]))[path] == "HIT"
    clock[0] += 1000  # one recheck window later, well inside the 60 s fresh window
    github.add_document(path, {"path": path, "title": "the edit, visible at last"})
    response = await hooks.client.get(f"/api/github{path}", headers=auth(TOKEN_A))
    assert response.headers["x-cache"] == "MISS"
    assert response.json()["title"] == "the edit, visible at last"
    clock[0] += 10_000  # answers inside the settle window are all re-checked once more...
    assert (await states(hooks, [path]))[path] == "REVALIDATED"
    clock[0] += 30_000  # ...and one from past it keeps the full fresh window
    assert (await states(hooks, [path]))[path] == "HIT"


async def test_a_fetch_that_started_before_an_event_is_not_stored_as_fresh(
    make_hooks: HooksFactory, github: FakeGitHub, clock: list[int]
) -> None:
    import asyncio

    hooks = make_hooks()
    payload = fixture_payload("issues", "edited")
    path = f"/repos/{repo_of(payload)}/issues/1"
    github.add_document(path, {"version": "before the edit"})
    github.hold(path)
    read = asyncio.create_task(hooks.client.get(f"/api/github{path}", headers=auth(TOKEN_A)))
    await github.wait_held(1)
    await hooks.deliver("issues", payload)  # the event lands while GitHub answers
    github.release()
    assert (await read).json() == {"version": "before the edit"}
    github.add_document(path, {"version": "after the edit"})
    response = await hooks.client.get(f"/api/github{path}", headers=auth(TOKEN_A))
    assert response.headers["x-cache"] == "MISS"
    assert response.json() == {"version": "after the edit"}


async def test_a_lost_oversize_delivery_resyncs_its_repository(
    make_hooks: HooksFactory, github: FakeGitHub, clock: list[int]
) -> None:
    hooks = make_hooks(webhook_max_body_bytes=20_000)
    payload = fixture_payload("issues", "edited")
    # An earlier delivery taught Hubbub the repository's id and name.
    assert (await hooks.deliver("issues", payload)).status_code == 202
    paths = [f"/repos/{repo_of(payload)}/contents/README.md", f"/repos/{repo_of(payload)}"]
    await prime(hooks, github, paths)
    big = {**payload, "padding": "x" * 30_000}
    body, headers = signed("push", big)
    headers["x-github-hook-installation-target-id"] = str(payload["repository"]["id"])
    response = await hooks.client.post("/api/webhooks/github", content=body, headers=headers)
    assert response.status_code == 413
    assert len(await hooks.stream()) == 1  # nothing stored for the lost delivery
    assert await states(hooks, [*paths, CONTROL]) == {
        **dict.fromkeys(paths, "REVALIDATED"),
        CONTROL: "HIT",
    }
    # The headers are not signed: a flood of them resyncs the repository once a minute
    # at most, and cannot keep its cache from working.
    clock[0] += 10_000  # past the settle window: re-checked once, then fresh for the window
    assert await states(hooks, paths) == dict.fromkeys(paths, "REVALIDATED")
    for _ in range(3):
        again = await hooks.client.post("/api/webhooks/github", content=body, headers=headers)
        assert again.status_code == 413
    assert await states(hooks, paths) == dict.fromkeys(paths, "HIT")
