"""Access decisions: may this caller read, or write, this repository?

Decided from the repository's `permissions` as GitHub returns them to that caller, read
through the gateway. So a decision is cached exactly as long as that answer is fresh, and
a `member`, `membership`, `team`, `organization` or `installation` webhook, which bumps the
repository's scopes (webhooks/invalidation.py), drops it at once: the next check
revalidates, for free when nothing changed. Refusals (GitHub's 404) are never cached.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proxy.messages import GatewayRequest
from shared.errors import InvalidRequest, UpstreamUnavailable
from shared.identity import Identity

if TYPE_CHECKING:
    from proxy.gateway import Gateway

# Weakest to strongest; GitHub's `permissions` object names write `push` and read `pull`.
LEVELS = ("none", "read", "triage", "write", "maintain", "admin")
_FIELDS = (("admin", "admin"), ("maintain", "maintain"), ("push", "write"), ("triage", "triage"))
_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_DENIED = frozenset({401, 403, 404, 410, 451})


def parse_repo(repo: str) -> str:
    """`owner/name`, or InvalidRequest: the name goes into an upstream path."""
    if not isinstance(repo, str) or not _REPO.fullmatch(repo) or ".." in repo:
        raise InvalidRequest("repository must be 'owner/name'", code="invalid_repository")
    return repo


@dataclass(frozen=True)
class RepositoryAccess:
    """A caller's standing in a repository: its level, and the repository as GitHub names
    it now (its id survives renames and transfers; rooms and event streams key on it)."""

    level: str  # one of LEVELS
    id: int = 0
    full_name: str = ""

    @property
    def can_read(self) -> bool:
        return self.level != "none"


class Access:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def lookup(self, identity: Identity, repo: str) -> RepositoryAccess:
        answer = await self.gateway(
            GatewayRequest(
                method="GET", path=f"/repos/{parse_repo(repo)}", query="", identity=identity
            )
        )
        if answer.status in _DENIED or 300 <= answer.status < 400:
            return RepositoryAccess("none")
        if answer.status != 200:
            raise UpstreamUnavailable(
                f"GitHub answered {answer.status} for the repository", status=503, retry_after_s=5
            )
        try:
            document = json.loads(answer.body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise UpstreamUnavailable("GitHub's repository answer was not an object", status=502)
        level = _level(identity, document)
        repository_id = document.get("id")
        full_name = document.get("full_name")
        if level == "none" or not isinstance(repository_id, int) or not isinstance(full_name, str):
            return RepositoryAccess("none")
        return RepositoryAccess(level, repository_id, full_name)

    async def permission(self, identity: Identity, repo: str) -> str:
        """One of LEVELS."""
        return (await self.lookup(identity, repo)).level

    async def can_read(self, identity: Identity, repo: str) -> bool:
        return await self.permission(identity, repo) != "none"

    async def can_write(self, identity: Identity, repo: str) -> bool:
        if identity.is_anonymous:
            return False
        level = await self.permission(identity, repo)
        return LEVELS.index(level) >= LEVELS.index("write")


def _level(identity: Identity, document: dict[str, Any]) -> str:
    permissions = document.get("permissions")
    if identity.is_anonymous:
        # Served with the server's own token, which may see private repositories its
        # anonymous callers must not: only public ones are readable to them.
        return "read" if document.get("private") is False else "none"
    if not isinstance(permissions, dict):
        # Not answered as a user (an installation token): what it shows, it may read.
        return "read"
    for field, level in _FIELDS:
        if permissions.get(field) is True:
            return level
    return "read" if permissions.get("pull") is True or not document.get("private") else "none"
