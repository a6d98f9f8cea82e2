"""What each GitHub event makes stale: the table, and the scopes it yields for a delivery.

The table is data, and docs/webhooks.md prints it (`python -m webhooks.invalidation`
writes the Markdown; a test checks the two agree), so the documentation and the code
cannot drift. Rows add up: a delivery invalidates the union of every row whose event
matches and whose actions include its action (or list none: every action). Templates name
scopes in the vocabulary of proxy/scopes.py; a template whose placeholder the payload
cannot fill (no milestone on the issue, a pull request that was not merged) is skipped.

Invalidation only ever marks entries for revalidation, and repeating it changes nothing
GitHub has not changed: deliveries may come twice, late, or out of order.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from proxy import repo_scope

Payload = dict[str, Any]


@dataclass(frozen=True)
class Rule:
    event: str
    actions: tuple[str, ...]  # empty: every action
    scopes: tuple[str, ...]
    why: str


def _get(payload: Payload, *path: str) -> Any:
    value: Any = payload
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _name(value: Any) -> str | None:
    return str(value).lower() if isinstance(value, (str, int)) and value != "" else None


def _full_name_scope(value: Any) -> str | None:
    return repo_scope(value) if isinstance(value, str) and "/" in value else None


def _number(payload: Payload) -> str | None:
    for kind in ("issue", "pull_request"):
        number = _get(payload, kind, "number")
        if isinstance(number, int):
            return str(number)
    number = payload.get("number")
    return str(number) if isinstance(number, int) else None


def _pull_number(payload: Payload) -> str | None:
    """The number when the subject is a pull request (PRs are issues; not every issue is a PR)."""
    if isinstance(payload.get("pull_request"), dict) or _get(payload, "issue", "pull_request"):
        return _number(payload)
    return None


def _old_repository(payload: Payload) -> str | None:
    name = _get(payload, "repository", "name")
    owner = _get(payload, "repository", "owner", "login")
    old_name = _get(payload, "changes", "repository", "name", "from") or name
    old_owner = (
        _get(payload, "changes", "owner", "from", "user", "login")
        or _get(payload, "changes", "owner", "from", "organization", "login")
        or owner
    )
    if not (isinstance(old_owner, str) and isinstance(old_name, str)):
        return None
    return repo_scope(f"{old_owner}/{old_name}")


def _installation_repositories(payload: Payload) -> list[str]:
    scopes = []
    for field in ("repositories", "repositories_added", "repositories_removed"):
        for repository in payload.get(field) or []:
            scope = _full_name_scope(_get(repository, "full_name"))
            if scope is not None:
                scopes.append(scope)
    return scopes


# Placeholder -> how to read it from a payload (None or [] skips the template).
PLACEHOLDERS: dict[str, Callable[[Payload], str | list[str] | None]] = {
    "R": lambda p: _full_name_scope(_get(p, "repository", "full_name")),
    "owner": lambda p: _name(_get(p, "repository", "owner", "login")),
    "org": lambda p: _name(_get(p, "organization", "login")),
    "number": _number,
    "pull": _pull_number,
    "merged_R": lambda p: (
        _full_name_scope(_get(p, "repository", "full_name"))
        if _get(p, "pull_request", "merged") is True
        else None
    ),
    "milestone": lambda p: _name(
        _get(p, "milestone", "number") or _get(p, "issue", "milestone", "number")
    ),
    "label": lambda p: _name(_get(p, "label", "name")),
    "old_label": lambda p: _name(_get(p, "changes", "name", "from")),
    "release": lambda p: _name(_get(p, "release", "id")),
    "old_R": _old_repository,
    "old_owner": lambda p: _name(
        _get(p, "changes", "owner", "from", "user", "login")
        or _get(p, "changes", "owner", "from", "organization", "login")
    ),
    "new_R": lambda p: _full_name_scope(_get(p, "changes", "new_repository", "full_name")),
    "new_number": lambda p: _name(_get(p, "changes", "new_issue", "number")),
    "parent_R": lambda p: _full_name_scope(_get(p, "parent_issue_repo", "full_name")),
    "parent": lambda p: _name(_get(p, "parent_issue", "number")),
    "child_R": lambda p: _full_name_scope(_get(p, "sub_issue_repo", "full_name")),
    "child": lambda p: _name(_get(p, "sub_issue", "number")),
    "installation_R": _installation_repositories,
}

EVERYTHING = "{R}/*"
REPO_LISTS = ("user/repos", "users/{owner}", "orgs/{owner}", "installation/repositories")

RULES: tuple[Rule, ...] = (
    Rule(
        "issues",
        (),
        ("{R}/issues/{number}", "{R}/issues", "{R}", "issues", "user/issues"),
        "the issue, the repository's issue lists, its open-issue count, the caller's issues",
    ),
    Rule(
        "issues",
        ("opened", "closed", "reopened", "deleted", "transferred", "milestoned", "demilestoned"),
        ("{R}/milestones/{milestone}", "{R}/milestones"),
        "the milestone's open and closed counts",
    ),
    Rule(
        "issues",
        ("transferred",),
        ("{new_R}/issues/{new_number}", "{new_R}/issues", "{new_R}"),
        "the issue in its new repository",
    ),
    Rule(
        "issue_comment",
        (),
        ("{R}/issues/{number}", "{R}/issues/comments", "{R}/issues", "{R}/pulls/{pull}"),
        "the issue (its comments and count), the repository's comment list",
    ),
    Rule(
        "pull_request",
        (),
        ("{R}/pulls/{number}", "{R}/pulls", "{R}/issues/{number}", "{R}/issues", "{R}"),
        "the pull request (commits, files, reviews below it), its issue, both lists",
    ),
    Rule(
        "pull_request",
        ("closed",),
        ("{merged_R}/commits", "{merged_R}/branches", "{merged_R}/compare", "{merged_R}/git"),
        "a merge moves the base branch",
    ),
    Rule(
        "pull_request_review",
        (),
        ("{R}/pulls/{number}", "{R}/pulls"),
        "the pull request's reviews",
    ),
    Rule(
        "pull_request_review_comment",
        (),
        ("{R}/pulls/{number}", "{R}/pulls/comments"),
        "the pull request's review comments, the repository's review comment list",
    ),
    Rule(
        "pull_request_review_thread",
        (),
        ("{R}/pulls/{number}",),
        "the pull request's review comments",
    ),
    Rule(
        "push",
        (),
        (
            "{R}/contents",
            "{R}/readme",
            "{R}/commits",
            "{R}/compare",
            "{R}/git",
            "{R}/branches",
            "{R}/tags",
            "{R}/zipball",
            "{R}/tarball",
            "{R}",
        ),
        "everything addressed by a ref, and the repository's pushed_at",
    ),
    Rule("create", (), ("{R}/branches", "{R}/tags", "{R}/git", "{R}"), "a new branch or tag"),
    Rule("delete", (), ("{R}/branches", "{R}/tags", "{R}/git", "{R}"), "a branch or tag gone"),
    Rule(
        "label",
        (),
        ("{R}/labels", "{R}/labels/{label}", "{R}/labels/{old_label}"),
        "the label and the label list",
    ),
    Rule(
        "label",
        ("edited", "deleted"),
        (EVERYTHING,),
        "labels are embedded in every issue and pull request that carries them",
    ),
    Rule(
        "milestone",
        (),
        ("{R}/milestones", "{R}/milestones/{milestone}"),
        "the milestone and the milestone list",
    ),
    Rule(
        "milestone",
        ("edited", "closed", "opened", "deleted"),
        (EVERYTHING,),
        "milestones are embedded in every issue and pull request in them",
    ),
    Rule(
        "release",
        (),
        (
            "{R}/releases",
            "{R}/releases/{release}",
            "{R}/releases/latest",
            "{R}/releases/tags",
            "{R}/tags",
            "{R}/git",
        ),
        "the release, the latest release, lookups by tag, the tags a release creates",
    ),
    Rule(
        "repository",
        (),
        (EVERYTHING, *REPO_LISTS),
        "renames, transfers, visibility and archiving change every answer and who may see it",
    ),
    Rule(
        "repository",
        ("renamed", "transferred"),
        ("{old_R}/*", "users/{old_owner}", "orgs/{old_owner}"),
        "everything cached under the old name, and the old owner's repository lists",
    ),
    Rule(
        "member",
        (),
        (EVERYTHING, "user/repos"),
        "a collaborator's access changed: every cached answer and access decision",
    ),
    Rule(
        "membership",
        (),
        ("repos/{org}/*", "orgs/{org}"),
        "team membership changes access to the organisation's repositories",
    ),
    Rule(
        "team",
        (),
        ("repos/{org}/*", "orgs/{org}", EVERYTHING),
        "team changes change access to the organisation's repositories",
    ),
    Rule("team_add", (), (EVERYTHING, "orgs/{org}"), "a team gained access to the repository"),
    Rule(
        "organization",
        (),
        ("repos/{org}/*", "orgs/{org}", "user/repos"),
        "organisation membership changes access to every repository in it",
    ),
    Rule(
        "installation",
        (),
        ("{installation_R}/*", "installation/repositories", "user/installations", "user/repos"),
        "an app installation's access changed",
    ),
    Rule(
        "installation_repositories",
        (),
        ("{installation_R}/*", "installation/repositories", "user/repos"),
        "repositories added to or removed from an installation",
    ),
    Rule("star", (), ("{R}", "{R}/stargazers", "user/starred"), "stargazers_count"),
    Rule("watch", (), ("{R}", "{R}/subscribers", "user/subscriptions"), "watchers"),
    Rule("fork", (), ("{R}", "{R}/forks"), "forks_count"),
    Rule("public", (), (EVERYTHING, *REPO_LISTS), "the repository's visibility"),
    Rule("status", (), ("{R}/commits", "{R}/statuses"), "commit statuses"),
    Rule(
        "check_run",
        (),
        ("{R}/commits", "{R}/check-runs", "{R}/check-suites"),
        "checks on a commit",
    ),
    Rule(
        "check_suite",
        (),
        ("{R}/commits", "{R}/check-runs", "{R}/check-suites"),
        "checks on a commit",
    ),
    Rule("workflow_run", (), ("{R}/actions", "{R}/commits"), "Actions runs and their checks"),
    Rule("workflow_job", (), ("{R}/actions",), "Actions jobs"),
    Rule("commit_comment", (), ("{R}/comments", "{R}/commits"), "commit comments"),
    Rule("deployment", (), ("{R}/deployments",), "deployments"),
    Rule("deployment_status", (), ("{R}/deployments",), "deployment statuses"),
    Rule(
        "branch_protection_rule",
        (),
        ("{R}/branches", "{R}/rules", "{R}/rulesets"),
        "branch protection",
    ),
    Rule(
        "sub_issues",
        (),
        (
            "{parent_R}/issues/{parent}",
            "{child_R}/issues/{child}",
            "{parent_R}/issues",
            "{child_R}/issues",
        ),
        "the parent's sub-issue list and the child's parent",
    ),
    Rule(
        "meta",
        ("deleted",),
        (EVERYTHING,),
        "the hook is gone: nothing will announce changes, so revalidate everything once",
    ),
)

HANDLED_EVENTS = frozenset(rule.event for rule in RULES)
_FIELD = re.compile(r"\{(\w+)\}")


def scopes_for(event: str, payload: Payload) -> list[str]:
    """Every scope the delivery makes stale, in table order, each once."""
    action = payload.get("action")
    values: dict[str, str | list[str] | None] = {}
    scopes: list[str] = []
    for rule in RULES:
        if rule.event != event or (rule.actions and action not in rule.actions):
            continue
        for template in rule.scopes:
            scopes.extend(_fill(template, payload, values))
    return list(dict.fromkeys(scopes))


def _fill(template: str, payload: Payload, values: dict[str, str | list[str] | None]) -> list[str]:
    names = _FIELD.findall(template)
    for name in names:
        if name not in values:
            values[name] = PLACEHOLDERS[name](payload)
    if any(not values[name] for name in names):
        return []
    # A list placeholder (installation repositories) yields one scope per value.
    listed = [name for name in names if isinstance(values[name], list)]
    if not listed:
        return [template.format(**values)]
    (name,) = listed
    return [template.format(**{**values, name: item}) for item in values[name] or []]


def renamed(scopes: Iterable[str], current: str, names: Iterable[str]) -> list[str]:
    """`scopes` plus the same scopes under every other name the repository has gone by."""
    prefix = repo_scope(current)
    result = list(scopes)
    for other in names:
        alias = repo_scope(other)
        if alias == prefix:
            continue
        for scope in list(result):
            if scope == prefix or scope.startswith(prefix + "/"):
                result.append(alias + scope[len(prefix) :])
    return list(dict.fromkeys(result))


def markdown_table() -> str:
    """The table as docs/webhooks.md shows it."""
    lines = ["| Event | Actions | Makes stale | Why |", "|---|---|---|---|"]
    for rule in RULES:
        actions = ", ".join(rule.actions) if rule.actions else "every action"
        scopes = ", ".join(f"`{scope}`" for scope in rule.scopes)
        lines.append(f"| `{rule.event}` | {actions} | {scopes} | {rule.why} |")
    return "\n".join(lines) + "\n"


def _check_placeholders() -> None:
    formatter = string.Formatter()
    for rule in RULES:
        for template in rule.scopes:
            for _, name, _, _ in formatter.parse(template):
                if name is not None and name not in PLACEHOLDERS:
                    raise ValueError(f"unknown placeholder {name!r} in {template!r}")


_check_placeholders()

if __name__ == "__main__":
    print(markdown_table(), end="")
