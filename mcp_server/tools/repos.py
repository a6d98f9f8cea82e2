"""Repository contents and history: `get_file_contents`, `list_commits`, `get_commit`,
`list_branches`, and Hubbub's `list_recent_events` from the event stream."""

import base64
import binascii
from typing import Annotated, Literal
from urllib.parse import quote

from mcp.types import CallToolResult
from pydantic import Field

from mcp_server.github import ToolFailure
from mcp_server.services import Services
from mcp_server.shaping import commit_view, file_view, listing, page_note, result
from mcp_server.tools.params import Fields, Offset, Owner, Page, PerPage, Repo
from mcp_server.toolsets import ToolDef, guarded
from shared.events.bus import parse_stream_id

Ref = Annotated[str | None, Field(description="Branch, tag or commit; default branch if none")]


def content_path(path: str) -> str:
    """A repository path as URL segments; a model cannot climb out of the repository."""
    parts = [part for part in path.strip("/").split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise ToolFailure("A path may not contain '.' or '..' segments.")
    return "/".join(quote(part, safe="") for part in parts)


def tools(s: Services) -> list[ToolDef]:
    @guarded
    async def get_file_contents(
        owner: Owner,
        repo: Repo,
        path: Annotated[str, Field(description="File or directory path; '' for the root")] = "",
        ref: Ref = None,
        offset: Offset = 0,
    ) -> CallToolResult:
        """A file's text, or a directory's entries."""
        identity = await s.callers.identity()
        answer = await s.github.get(
            identity,
            f"/repos/{owner}/{repo}/contents/{content_path(path)}".rstrip("/"),
            {"ref": ref},
            subject=f"{owner}/{repo}:{path or '/'}",
        )
        if isinstance(answer.data, list):
            entries = [
                {
                    "name": e.get("name"),
                    "type": e.get("type"),
                    "path": e.get("path"),
                    "size": e.get("size"),
                }
                for e in answer.data
            ]
            return result({"items": entries}, cap=s.cap, notes=[answer.note])
        data = answer.data or {}
        item = {"path": data.get("path"), "sha": data.get("sha"), "size": data.get("size")}
        notes = [answer.note]
        try:
            item["content"] = base64.b64decode(data.get("content") or "").decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            notes.append("The file is binary; only its size and sha are shown.")
        if data.get("type") == "file" and data.get("encoding") == "none":
            notes.append(
                f"The file is too large for GitHub's contents API ({data.get('size')} bytes);"
                f" its raw text is at {data.get('download_url')}."
            )
        if data.get("type") != "file":
            notes.append(f"This entry is a {data.get('type')}, not a file.")
        return result({"item": item}, cap=s.cap, notes=notes, offset=offset)

    @guarded
    async def list_commits(
        owner: Owner,
        repo: Repo,
        sha: Annotated[str | None, Field(description="Branch or commit to start from")] = None,
        path: Annotated[str | None, Field(description="Only commits touching this path")] = None,
        author: Annotated[str | None, Field(description="GitHub login or e-mail")] = None,
        since: Annotated[str | None, Field(description="ISO 8601")] = None,
        until: Annotated[str | None, Field(description="ISO 8601")] = None,
        page: Page = 1,
        perPage: PerPage = 20,
        fields: Fields = None,
    ) -> CallToolResult:
        """A branch's commits, newest first."""
        identity = await s.callers.identity()
        query = {
            "sha": sha,
            "path": path,
            "author": author,
            "since": since,
            "until": until,
            "page": page,
            "per_page": perPage,
        }
        answer = await s.github.get(
            identity, f"/repos/{owner}/{repo}/commits", query, subject=f"{owner}/{repo}"
        )
        return listing(
            answer,
            answer.data,
            commit_view,
            per_page=perPage,
            cap=s.cap,
            fields=fields,
            keep=("sha",),
        )

    @guarded
    async def get_commit(
        owner: Owner,
        repo: Repo,
        sha: Annotated[str, Field(description="Commit sha, branch or tag", min_length=1)],
        detail: Literal["none", "stats", "full_patch"] = "stats",
        page: Page = 1,
        perPage: PerPage = 30,
    ) -> CallToolResult:
        """One commit; `detail` adds its files' line counts (stats) or their diffs."""
        identity = await s.callers.identity()
        answer = await s.github.get(
            identity,
            f"/repos/{owner}/{repo}/commits/{quote(sha, safe='')}",
            {"page": page, "per_page": perPage},
            subject=f"{owner}/{repo}@{sha}",
        )
        payload: dict[str, object] = {"item": commit_view(answer.data)}
        if detail != "none":
            files = [file_view(item) for item in answer.data.get("files") or []]
            if detail == "stats":
                for item in files:
                    item.pop("patch", None)
            payload["items"] = files
            payload["stats"] = answer.data.get("stats")
        return result(payload, cap=s.cap, notes=[answer.note, page_note(answer.next_page, perPage)])

    @guarded
    async def list_branches(
        owner: Owner, repo: Repo, page: Page = 1, perPage: PerPage = 30
    ) -> CallToolResult:
        """A repository's branches."""
        identity = await s.callers.identity()
        answer = await s.github.get(
            identity,
            f"/repos/{owner}/{repo}/branches",
            {"page": page, "per_page": perPage},
            subject=f"{owner}/{repo}",
        )
        items = [
            {
                "name": b.get("name"),
                "sha": (b.get("commit") or {}).get("sha"),
                "protected": b.get("protected"),
            }
            for b in answer.data
        ]
        return result(
            {"items": items}, cap=s.cap, notes=[answer.note, page_note(answer.next_page, perPage)]
        )

    @guarded
    async def list_recent_events(
        owner: Owner,
        repo: Repo,
        since: Annotated[
            str | None,
            Field(description="An event id from an earlier call: only what came after it"),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> CallToolResult:
        """What happened in a repository lately, as Hubbub heard it from GitHub's webhooks
        (pushes, issues, pull requests, comments, saves of live edits), oldest first."""
        identity = await s.callers.identity()
        access = await s.gateway().access.lookup(identity, f"{owner}/{repo}")
        if not access.can_read:
            raise ToolFailure(f"Not found: {owner}/{repo} does not exist, or you cannot see it.")
        bus = s.events
        notes = []
        if since:
            try:
                parse_stream_id(since)
            except ValueError:
                raise ToolFailure("'since' must be an event id from an earlier call.") from None
            replay = await bus.replay(access.id, since, limit=limit)
            envelopes = replay.entries
            if replay.resync_required:
                notes.append("Events after 'since' were trimmed; these are the oldest kept.")
            if replay.more:
                notes.append("More events: call again with since set to the last id here.")
        else:
            envelopes = await bus.recent(access.id, limit)
        items = [
            {
                "id": e.id,
                "type": e.type,
                "action": e.action,
                "actor": e.actor,
                "time": e.time,
                "subject": e.subject.kind + (f" #{e.subject.number}" if e.subject.number else "")
                if e.subject
                else None,
            }
            for e in envelopes
        ]
        if not items and not since:
            notes.append("No events recorded: webhooks may not be set up for this repository.")
        return result({"items": items}, cap=s.cap, notes=notes)

    return [
        ToolDef(get_file_contents, "repos", "Read a file or directory", read_only=True),
        ToolDef(list_commits, "repos", "List commits", read_only=True),
        ToolDef(get_commit, "repos", "Read a commit", read_only=True),
        ToolDef(list_branches, "repos", "List branches", read_only=True),
        ToolDef(list_recent_events, "repos", "Recent repository activity", read_only=True),
    ]
