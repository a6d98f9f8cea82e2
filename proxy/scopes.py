"""Scopes: the groups of cache entries one change makes stale.

A scope is a repository's top-level collection (`repos/octo/hello/issues`) or, outside
repositories, the first two path segments (`users/octocat`). Every read is stamped with
its scope's change counter; a write or a webhook bumps the counter, so every partition's
entries under that scope revalidate on their next read — at no rate-limit cost when
nothing they show changed. Coarse on purpose: one key to read per lookup, and a PATCH of
issue 5 also refreshes the repo's issue lists, where issue 5 appears.
"""

from __future__ import annotations

from urllib.parse import unquote

# Collections whose members also appear in another: an issue edit changes a PR and back.
_RELATED = {"issues": ("pulls",), "pulls": ("issues",)}


def read_scope(path: str) -> str:
    segments = [unquote(part) for part in path.strip("/").split("/") if part]
    if not segments:
        return "root"
    if segments[0] == "repos" and len(segments) >= 3:
        repo = f"repos/{segments[1].lower()}/{segments[2].lower()}"
        return f"{repo}/{segments[3]}" if len(segments) >= 4 else repo
    return "/".join(segments[:2])


def write_scopes(path: str) -> list[str]:
    """The scopes a successful write to `path` changes."""
    scope = read_scope(path)
    scopes = [scope]
    parts = scope.split("/")
    if parts[0] == "repos" and len(parts) == 4:
        repo = "/".join(parts[:3])
        scopes.append(repo)
        scopes.extend(f"{repo}/{related}" for related in _RELATED.get(parts[3], ()))
    return scopes
