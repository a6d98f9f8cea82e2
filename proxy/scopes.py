"""Scopes: the groups of cache entries one change makes stale, and the stamp a read carries.

Every cached read is stamped with the versions of its scopes at the moment GitHub vouched
for it; a change bumps a version, so the entries under it (in every caller's partition)
revalidate on their next read — at no rate-limit cost when what they show is unchanged.
No key is ever enumerated: a change touches a handful of version counters, whatever the
number of pages, queries and callers cached beneath them.

A read under a repository `R = repos/{owner}/{repo}` carries three versions:

- `repos/{owner}/*`: everything of the owner's (organisation membership, team changes);
- `R/*`: everything of the repository (renames, transfers, access changes, label edits);
- its own scope: `R` for the repository object, `R/{collection}` for a collection's lists
  (`/repos/o/r/issues?state=open`), `R/{collection}/{item}` for one member of an itemised
  collection and what hangs beneath it (`/repos/o/r/issues/5/comments`). Collections that
  are not itemised (contents, commits, git, ...) are one scope, because the changes to them
  (a push) cannot name the paths they touch.

Outside repositories the scope is the first two path segments (`users/octocat`). Names are
lower-cased: GitHub's are case-insensitive.
"""

from __future__ import annotations

from urllib.parse import unquote

# Collections whose members are addressed by number, id or name, and changed one by one.
ITEMISED = frozenset({"issues", "pulls", "milestones", "labels", "releases", "hooks"})

# Collections whose members also appear in another: an issue edit changes a PR and back.
_RELATED = {"issues": "pulls", "pulls": "issues"}

# Collections whose members are embedded in other resources: an edit reaches everything.
_EMBEDDED = frozenset({"labels", "milestones"})


def _segments(path: str) -> list[str]:
    return [unquote(part) for part in path.strip("/").split("/") if part]


def repo_scope(full_name: str) -> str:
    return f"repos/{full_name.lower()}"


def read_scope(path: str) -> str:
    """The narrowest scope whose change makes the answer at `path` stale."""
    segments = _segments(path)
    if not segments:
        return "root"
    if segments[0] == "repos" and len(segments) >= 3:
        repo = repo_scope(f"{segments[1]}/{segments[2]}")
        if len(segments) == 3:
            return repo
        collection = segments[3]
        if len(segments) >= 5 and collection in ITEMISED:
            return f"{repo}/{collection}/{segments[4].lower()}"
        return f"{repo}/{collection}"
    return "/".join(segments[:2]).lower()


def stamp_scopes(path: str) -> list[str]:
    """Every scope whose version a read of `path` is stamped with, broadest first."""
    scope = read_scope(path)
    parts = scope.split("/")
    if parts[0] != "repos" or len(parts) < 3:
        return [scope]
    owner, name = parts[1:3]
    return [f"repos/{owner}/*", f"repos/{owner}/{name}/*", scope]


def write_scopes(path: str) -> list[str]:
    """The scopes a successful write to `path` changes."""
    scope = read_scope(path)
    parts = scope.split("/")
    if parts[0] != "repos" or len(parts) < 4:
        return [scope]
    repo, collection = "/".join(parts[:3]), parts[3]
    if collection in _EMBEDDED and len(parts) == 5:
        return [f"{repo}/*"]
    # The member, its collection's lists, and the repository's counts (open_issues_count).
    scopes = [scope, f"{repo}/{collection}", repo]
    related = _RELATED.get(collection)
    if related is not None:
        scopes.append(f"{repo}/{related}")
        if len(parts) == 5:
            scopes.append(f"{repo}/{related}/{parts[4]}")
    return list(dict.fromkeys(scopes))


def stamp_of(versions: list[str | None]) -> str:
    """The stamp an entry carries: its scopes' versions, `0` for one never bumped."""
    return ".".join(version or "0" for version in versions)


def last_change_ms(stamp: str) -> int:
    """When the newest of the stamp's scopes last changed (versions are bump times in ms)."""
    latest = 0
    for version in stamp.split("."):
        if version.isdigit():
            latest = max(latest, int(version))
    return latest
