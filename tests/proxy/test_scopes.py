"""Scopes: which cached entries a change makes stale."""

from __future__ import annotations

import pytest

from proxy.scopes import read_scope, write_scopes


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/repos/Octo/Hello/issues/5", "repos/octo/hello/issues"),
        ("/repos/octo/hello/issues", "repos/octo/hello/issues"),
        ("/repos/octo/hello/issues/5/comments", "repos/octo/hello/issues"),
        ("/repos/octo/hello", "repos/octo/hello"),
        ("/users/octocat/repos", "users/octocat"),
        ("/user", "user"),
        ("/", "root"),
    ],
)
def test_reads_fall_into_their_collection(path: str, scope: str) -> None:
    assert read_scope(path) == scope


def test_an_issue_edit_marks_issues_pulls_and_the_repo() -> None:
    assert set(write_scopes("/repos/octo/hello/issues/5")) == {
        "repos/octo/hello/issues",
        "repos/octo/hello/pulls",
        "repos/octo/hello",
    }
