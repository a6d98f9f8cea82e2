"""Scopes: which cached entries a change makes stale, and the stamp a read carries."""

from __future__ import annotations

import asyncio

import pytest

import proxy.clock
from proxy import Invalidator
from proxy.cache_entry import RECHECK_MS, CacheEntry
from proxy.scopes import last_change_ms, read_scope, stamp_of, stamp_scopes, write_scopes
from shared.store import Store
from shared.store.keys import Keys


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/repos/Octo/Hello/issues/5", "repos/octo/hello/issues/5"),
        ("/repos/octo/hello/issues/5/comments", "repos/octo/hello/issues/5"),
        ("/repos/octo/hello/issues", "repos/octo/hello/issues"),
        ("/repos/octo/hello/issues/comments/9", "repos/octo/hello/issues/comments"),
        ("/repos/octo/hello/labels/Bug", "repos/octo/hello/labels/bug"),
        ("/repos/octo/hello/contents/docs/a.md", "repos/octo/hello/contents"),
        ("/repos/octo/hello/git/ref/heads/main", "repos/octo/hello/git"),
        ("/repos/octo/hello", "repos/octo/hello"),
        ("/users/octocat/repos", "users/octocat"),
        ("/user", "user"),
        ("/", "root"),
    ],
)
def test_reads_fall_into_their_narrowest_scope(path: str, scope: str) -> None:
    assert read_scope(path) == scope


def test_a_repository_read_is_stamped_by_owner_repository_and_scope() -> None:
    assert stamp_scopes("/repos/Octo/Hello/issues/5") == [
        "repos/octo/*",
        "repos/octo/hello/*",
        "repos/octo/hello/issues/5",
    ]
    assert stamp_scopes("/users/octocat") == ["users/octocat"]


def test_an_issue_edit_marks_the_issue_its_pull_request_their_lists_and_the_repo() -> None:
    assert set(write_scopes("/repos/octo/hello/issues/5")) == {
        "repos/octo/hello/issues/5",
        "repos/octo/hello/issues",
        "repos/octo/hello/pulls/5",
        "repos/octo/hello/pulls",
        "repos/octo/hello",
    }


def test_a_label_edit_reaches_everything_in_the_repository() -> None:
    # Labels are embedded in every issue and pull request that carries them.
    assert write_scopes("/repos/octo/hello/labels/bug") == ["repos/octo/hello/*"]


def test_the_last_change_is_the_newest_version_in_the_stamp() -> None:
    assert last_change_ms(stamp_of([None, "1700000000123", "12"])) == 1_700_000_000_123
    assert last_change_ms(stamp_of([None, None])) == 0


def test_an_answer_just_after_a_change_is_fresh_only_briefly() -> None:
    changed_ms = 1_700_000_000_000
    stamp = stamp_of([str(changed_ms)])
    soon = CacheEntry(200, [], b"", validated_ms=changed_ms + 1000, stamp=stamp)
    later = CacheEntry(200, [], b"", validated_ms=changed_ms + 10_000, stamp=stamp)
    settle_ms = 5000

    assert soon.is_fresh(soon.validated_ms + RECHECK_MS - 1, 60, stamp, settle_ms)
    assert not soon.is_fresh(soon.validated_ms + RECHECK_MS, 60, stamp, settle_ms)
    assert later.is_fresh(later.validated_ms + 59_000, 60, stamp, settle_ms)
    assert not later.is_fresh(later.validated_ms, 60, stamp_of([str(changed_ms + 1)]), settle_ms)


async def test_racing_invalidations_each_leave_a_distinct_version(
    store_pair: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every bump must be seen: with the clock standing still, 60 bumps from two
    # processes must move the version by exactly 60, none lost to a race.
    monkeypatch.setattr(proxy.clock, "now_ms", lambda: 1_800_000_000_000)
    keys = Keys("t:")
    first, second = (Invalidator(store, keys, ttl_s=60) for store in store_pair)
    await first.invalidate(["repos/octo/hello/issues"])
    await asyncio.gather(
        *(each.invalidate(["repos/octo/hello/issues"]) for each in [first, second] * 30)
    )
    version = await store_pair[0].get(keys.scope_version("repos/octo/hello/issues"))
    assert version == str(1_800_000_000_000 + 60)


@pytest.mark.parametrize("path", ["/repos", "/repos/octocat", "/repos/octocat/"])
def test_paths_short_of_a_repository_have_a_plain_scope(path: str) -> None:
    assert stamp_scopes(path) == [read_scope(path)]
