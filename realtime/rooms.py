"""Room names. Rooms are keyed by GitHub's repository id, which survives renames and
transfers, as the event streams are; clients speak in `owner/name`."""

from __future__ import annotations


def project_room(repository_id: int) -> str:
    return f"repo:{repository_id}"


def issue_room(repository_id: int, number: int) -> str:
    return f"issue:{repository_id}:{number}"


def draft_room(repository_id: int, number: int, kind: str) -> str:
    """The sockets editing an issue's draft that speak Yjs (`yjs`: binary sync messages),
    or JSON (`json`: `draft_changed` with the values)."""
    return f"draft:{repository_id}:{number}:{kind}"
