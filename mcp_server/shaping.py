"""What a tool hands a model: few fields, clean text, a clear next step, and a hard size cap.

Tool definitions and results both cost an agent context. GitHub's full objects are mostly
URLs and ids a model never needs, so each kind has a minimal view; `fields` narrows it
further. User-authored text loses invisible and bidirectional control characters (they
hide instructions from the people reviewing what an agent read). Every result's text
stays within `HUBBUB_MCP_RESULT_MAX_CHARS`: long texts are cut with the offset to read
on from, long lists lose their tail with a note, and nothing can exceed the cap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from mcp.types import CallToolResult, TextContent

from mcp_server.github import ToolFailure

# Zero-width and joiner characters, bidi embeddings, overrides and isolates, the BOM,
# the soft hyphen, and the Unicode "tag" block: all invisible in a rendered issue.
_INVISIBLE = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\U000e0000-\U000e007f]"
)
# Fields holding text a person or a repository wrote; long ones can be read on by offset.
LONG_TEXT = ("body", "patch", "content", "diff")
_OVERHEAD = 400  # room for the notes and the JSON around a cut text


def clean(text: Any) -> Any:
    return _INVISIBLE.sub("", text) if isinstance(text, str) else text


def login(user: Any) -> str | None:
    return user.get("login") if isinstance(user, dict) else None


def names(items: Any, key: str = "name") -> list[str]:
    if not isinstance(items, list):
        return []
    return [str(item.get(key)) for item in items if isinstance(item, dict) and item.get(key)]


# --- minimal views of GitHub's objects ------------------------------------------------------


def issue_view(issue: dict[str, Any]) -> dict[str, Any]:
    view = {
        "number": issue.get("number"),
        "title": clean(issue.get("title")),
        "state": issue.get("state"),
        "state_reason": issue.get("state_reason"),
        "author": login(issue.get("user")),
        "labels": names(issue.get("labels")),
        "assignees": names(issue.get("assignees"), "login"),
        "milestone": (issue.get("milestone") or {}).get("title"),
        "comments": issue.get("comments"),
        "created_at": issue.get("created_at"),
        "updated_at": issue.get("updated_at"),
        "url": issue.get("html_url"),
        "body": clean(issue.get("body")) or "",
    }
    if issue.get("pull_request"):
        view["is_pull_request"] = True
    return view


def pull_view(pull: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": pull.get("number"),
        "title": clean(pull.get("title")),
        "state": pull.get("state"),
        "draft": pull.get("draft"),
        "merged": pull.get("merged"),
        "author": login(pull.get("user")),
        "head": (pull.get("head") or {}).get("ref"),
        "base": (pull.get("base") or {}).get("ref"),
        "labels": names(pull.get("labels")),
        "mergeable": pull.get("mergeable"),
        "created_at": pull.get("created_at"),
        "updated_at": pull.get("updated_at"),
        "url": pull.get("html_url"),
        "body": clean(pull.get("body")) or "",
    }


def comment_view(comment: dict[str, Any]) -> dict[str, Any]:
    view = {
        "id": comment.get("id"),
        "author": login(comment.get("user")),
        "created_at": comment.get("created_at"),
        "body": clean(comment.get("body")) or "",
    }
    if comment.get("path"):
        view["path"] = comment.get("path")
        view["line"] = comment.get("line")
    if comment.get("state"):
        view["state"] = comment.get("state")
    return view


def commit_view(commit: dict[str, Any]) -> dict[str, Any]:
    inner = commit.get("commit") or {}
    return {
        "sha": commit.get("sha"),
        "message": clean(inner.get("message")),
        "author": login(commit.get("author")) or (inner.get("author") or {}).get("name"),
        "date": (inner.get("author") or {}).get("date"),
        "url": commit.get("html_url"),
    }


def file_view(item: dict[str, Any]) -> dict[str, Any]:
    view = {
        "filename": item.get("filename"),
        "status": item.get("status"),
        "additions": item.get("additions"),
        "deletions": item.get("deletions"),
    }
    if "patch" in item:
        view["patch"] = item.get("patch") or ""
    return view


def repo_view(repo: dict[str, Any]) -> dict[str, Any]:
    return {
        "full_name": repo.get("full_name"),
        "description": clean(repo.get("description")),
        "private": repo.get("private"),
        "default_branch": repo.get("default_branch"),
        "language": repo.get("language"),
        "stars": repo.get("stargazers_count"),
        "open_issues": repo.get("open_issues_count"),
        "updated_at": repo.get("updated_at"),
        "url": repo.get("html_url"),
    }


def user_view(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "login": user.get("login"),
        "id": user.get("id"),
        "name": clean(user.get("name")),
        "type": user.get("type"),
        "url": user.get("html_url"),
    }


def select(
    view: dict[str, Any], fields: list[str] | None, *, keep: Iterable[str] = ()
) -> dict[str, Any]:
    """The view narrowed to `fields` (and `keep`, the item's identity); an unknown field
    is the model's mistake and names the ones there are."""
    if not fields:
        return view
    unknown = [name for name in fields if name not in view]
    if unknown:
        raise ToolFailure(f"Unknown field {unknown[0]!r}; choose from: {', '.join(view)}.")
    wanted = {*fields, *keep}
    return {name: value for name, value in view.items() if name in wanted}


def shaped(
    items: Iterable[dict[str, Any]],
    view: Callable[[dict[str, Any]], dict[str, Any]],
    fields: list[str] | None,
    *,
    keep: Iterable[str] = (),
) -> list[dict[str, Any]]:
    kept = tuple(keep)
    return [select(view(item), fields, keep=kept) for item in items if isinstance(item, dict)]


# --- results ---------------------------------------------------------------------------------


def failure(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def page_note(next_page: int | None, per_page: int) -> str | None:
    if next_page is None:
        return None
    return f"More results: call again with page={next_page} (perPage={per_page})."


def result(
    payload: dict[str, Any],
    *,
    cap: int,
    notes: Iterable[str | None] = (),
    offset: int = 0,
) -> CallToolResult:
    """`payload` as the model's JSON text, never longer than `cap` characters.

    `offset` is where long texts start (the caller asked to read on); a text still too
    long is cut with a note naming the offset that continues it.
    """
    shown_notes = [note for note in notes if note]
    payload = dict(payload)
    _cut_texts(payload, cap, offset, shown_notes)
    items = payload.get("items")
    if isinstance(items, list):
        total = len(items)
        while items and _size(payload, shown_notes) > cap:
            items.pop()
        if len(items) < total:
            shown_notes.append(
                f"Only {len(items)} of {total} items fit in one result: ask for a smaller"
                " perPage, or fewer fields (leaving out 'body' saves the most)."
            )
    text = _dump(payload, shown_notes)
    if len(text) > cap:  # one enormous item: give the model something valid and the way on
        text = _dump(
            {"truncated": text[: cap - _OVERHEAD]},
            [*shown_notes, "The answer was cut at the size cap; narrow the request."],
        )[:cap]
    return CallToolResult(content=[TextContent(type="text", text=text)])


def _cut_texts(payload: dict[str, Any], cap: int, offset: int, notes: list[str]) -> None:
    """Cut each long text to its share of the cap, starting at `offset`."""
    holders: list[dict[str, Any]] = []
    if isinstance(payload.get("item"), dict):
        holders.append(payload["item"])
    if isinstance(payload.get("items"), list):
        holders.extend(item for item in payload["items"] if isinstance(item, dict))
    long_texts = [
        (holder, name)
        for holder in holders
        for name in LONG_TEXT
        if isinstance(holder.get(name), str)
    ]
    if not long_texts:
        return
    share = max(200, (cap - _OVERHEAD * 2) // len(long_texts) - 100)
    for holder, name in long_texts:
        text: str = holder[name]
        start = min(offset, len(text)) if len(long_texts) == 1 else 0
        # JSON escapes grow a text (newlines, quotes); measure the text as it will be sent.
        end = start + share
        while end > start and len(json.dumps(text[start:end], ensure_ascii=False)) > share:
            end = start + (end - start) * 3 // 4
        if start == 0 and end >= len(text):
            continue
        holder[name] = text[start:end]
        if end < len(text):
            where = f" of item {holder.get('number') or holder.get('filename') or ''}".rstrip()
            notes.append(
                f"'{name}'{where if where != ' of item' else ''} shows characters {start}-{end}"
                f" of {len(text)}; call again with offset={end} to read on."
            )
        elif start > 0:
            notes.append(f"'{name}' shows characters {start}-{len(text)} of {len(text)}.")


def _size(payload: dict[str, Any], notes: list[str]) -> int:
    return len(_dump(payload, notes)) + 200  # room for the note about dropped items


def _dump(payload: dict[str, Any], notes: list[str]) -> str:
    body = {**payload, "notes": notes} if notes else payload
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
