"""The envelope: one event as every layer and every client sees it, small and versioned.

It names what happened (`type`, `action`), where (the repository, by id and name), to
what (the issue, pull request or ref), who did it, and the few fields a UI shows without
fetching (title, state, labels, url). Everything else stays at GitHub, one gateway read
away: envelopes are summaries, never the source of truth, so events arriving out of
order can only make a UI refresh, never show an older state as newer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

VERSION = 1


@dataclass(frozen=True)
class Repository:
    id: int
    full_name: str


@dataclass(frozen=True)
class Subject:
    """What in the repository the event is about: an issue or PR by number, or a ref."""

    kind: str  # "issue", "pull_request", "ref", "release", "comment", ...
    number: int | None = None
    ref: str | None = None


@dataclass(frozen=True)
class Envelope:
    type: str  # "github.issues", "hubbub.issue_saved", ...
    action: str | None = None
    repository: Repository | None = None
    subject: Subject | None = None
    actor: str | None = None
    delivery: str | None = None
    time: str = ""  # ISO 8601, UTC, when Hubbub received it
    data: dict[str, Any] = field(default_factory=dict)
    id: str | None = None  # the stream id, once appended

    def to_json(self) -> str:
        """The stored form: without `id`, which is the stream entry's own id."""
        body = self.to_dict()
        del body["id"]
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)

    def to_dict(self) -> dict[str, Any]:
        """What clients receive. Built by hand: `dataclasses.asdict` deep-copies, and cost
        a twentieth of a delivery's handling."""
        repository, subject = self.repository, self.subject
        return {
            "v": VERSION,
            "type": self.type,
            "action": self.action,
            "repository": (
                {"id": repository.id, "full_name": repository.full_name} if repository else None
            ),
            "subject": (
                {"kind": subject.kind, "number": subject.number, "ref": subject.ref}
                if subject
                else None
            ),
            "actor": self.actor,
            "delivery": self.delivery,
            "time": self.time,
            "data": self.data,
            "id": self.id,
        }

    @classmethod
    def from_json(cls, text: str, entry_id: str | None = None) -> Envelope:
        raw = json.loads(text)
        repository = raw.get("repository")
        subject = raw.get("subject")
        return cls(
            type=raw["type"],
            action=raw.get("action"),
            repository=Repository(**repository) if repository else None,
            subject=Subject(**subject) if subject else None,
            actor=raw.get("actor"),
            delivery=raw.get("delivery"),
            time=raw.get("time", ""),
            data=raw.get("data") or {},
            id=entry_id,
        )


@dataclass(frozen=True)
class StreamEntry:
    """An envelope as the stream holds it, with the scopes its processing makes stale."""

    id: str
    envelope: Envelope
    scopes: tuple[str, ...] = ()

    @classmethod
    def from_fields(cls, entry_id: str, fields: dict[str, str]) -> StreamEntry:
        scopes = tuple(json.loads(fields["s"])) if "s" in fields else ()
        return cls(entry_id, Envelope.from_json(fields["e"], entry_id), scopes)
