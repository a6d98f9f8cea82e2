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

from mcp_server.github import Answer, ToolFailure

# Zero-width and joiner characters, bidi embeddings, overrides and isolates, the BOM,
# the soft hyphen, and the Unicode "tag" block: all invisible in a rendered issue.
_INVISIBLE = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\U000e0000-\U000e007f]"
)
# Fields holding text a person or a repository wrote; long ones can be read on by offset.
LONG_TEXT = ("body", "patch", "content", "diff", "message", "description")
_OVERHEAD = 400  # room for the notes and the JSON around a cut text


def clean(text: Any) -> Any:
    return _INVISIBLE.sub("", text) if isinstance(text, str) else text


def login(user: Any) -> str | None:
    return user.get("login") if isinstance(user, dict) else None


def names(items: Any, key: str = "name") -> list[str]:
    if not isinstance(items, list):
        return []
    return [clean(str(item[key])) for item in items if isinstance(item, dict) and item.get(key)]


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
        "created_at": comment.get("created_at") or comment.get("submitted_at"),
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


def label_view(label: dict[str, Any]) -> dict[str, Any]:
    return {"name": clean(label.get("name")), "description": clean(label.get("description"))}


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


def listing(
    answer: Answer,
    items: Iterable[dict[str, Any]],
    view: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    per_page: int,
    cap: int,
    fields: list[str] | None = None,
    keep: Iterable[str] = (),
    **extra: Any,
) -> CallToolResult:
    """A page of GitHub's list in its minimal view, with the way to the next page."""
    payload = {**extra, "items": shaped(items, view, fields, keep=keep)}
    return result(payload, cap=cap, notes=[answer.note, page_note(answer.next_page, per_page)])


def page_note(next_page: int | None, per_page: int) -> str | None:
    if next_page is None:
        return None
    return f"More results: call again with page={next_page} (perPage={per_page})."


def result(
    payload: dict[str, Any],
    *,
    cap: int,
    notes: Iterable[str | None] = (),
    offset: int | None = None,
) -> CallToolResult:
    """`payload` as the model's JSON text, never longer than `cap` characters.

    Long texts are cut to their share of the cap. A tool that can read on passes its
    `offset` argument (where the text starts); the note on a cut text then names the
    offset that continues it. A list that still does not fit loses its tail.
    """
    shown_notes = [note for note in notes if note]
    payload = dict(payload)
    cuts = _cut_texts(payload, cap, offset)
    items = payload.get("items")
    dropped = None
    if isinstance(items, list):
        # Room for the caller's notes and every cut's, whichever items stay.
        noted = sum(len(json.dumps(note, ensure_ascii=False)) + 1 for note in shown_notes)
        noted += sum(len(json.dumps(note, ensure_ascii=False)) + 1 for note in cuts.values())
        dropped = _keep_what_fits(payload, items, cap - noted)
    shown_notes += [cuts[id(holder)] for holder in _holders(payload) if id(holder) in cuts]
    if dropped:
        shown_notes.append(dropped)
    text = _dump(payload, shown_notes)
    if len(text) > cap:
        text = _fallback(text, cap, shown_notes)
    return CallToolResult(content=[TextContent(type="text", text=text)])


def _holders(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects whose texts may be cut: the item (and a draft inside it), each item."""
    holders: list[dict[str, Any]] = []
    item = payload.get("item")
    if isinstance(item, dict):
        holders.append(item)
        holders.extend(value for value in item.values() if isinstance(value, dict))
    if isinstance(payload.get("items"), list):
        holders.extend(each for each in payload["items"] if isinstance(each, dict))
    return holders


def _cut_texts(payload: dict[str, Any], cap: int, offset: int | None) -> dict[int, str]:
    """Cut each long text to its share of the cap; the note on each cut, by holder."""
    long_texts = [
        (holder, name)
        for holder in _holders(payload)
        for name in LONG_TEXT
        if isinstance(holder.get(name), str)
    ]
    notes: dict[int, str] = {}
    if not long_texts:
        return notes
    share = max(200, (cap - _OVERHEAD * 2) // len(long_texts) - 100)
    # Only a single text can be read on by offset: the tool's `offset` names its place.
    start_at = offset if offset is not None and len(long_texts) == 1 else 0
    for holder, name in long_texts:
        text: str = holder[name]
        start = min(start_at, len(text))
        # JSON escapes grow a text (newlines, quotes); measure it as it will be sent.
        end = start + share
        while end > start and len(json.dumps(text[start:end], ensure_ascii=False)) - 2 > share:
            end = start + (end - start) * 3 // 4
        if start == 0 and end >= len(text):
            continue
        holder[name] = text[start:end]
        label = holder.get("number") or holder.get("filename") or holder.get("path")
        where = f"'{name}'" + (f" of {label}" if label else "")
        if end >= len(text):
            notes[id(holder)] = f"{where} shows characters {start}-{len(text)} of {len(text)}."
        elif offset is not None and len(long_texts) == 1:
            notes[id(holder)] = (
                f"{where} shows characters {start}-{end} of {len(text)}; call again with"
                f" offset={end} to read on."
            )
        else:
            notes[id(holder)] = (
                f"{where} was cut at {end} of {len(text)} characters; read that item alone"
                " to see more."
            )
    return notes


def _keep_what_fits(payload: dict[str, Any], items: list[Any], room: int) -> str | None:
    """Keep the longest prefix of `items` whose result fits in `room`, each item measured
    once; the note saying what was left out, if anything was."""
    total = len(items)
    budget = room - len(_dump({**payload, "items": []}, [])) - 300
    used, count = 0, 0
    for item in items:
        size = len(json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str)) + 1
        if used + size > budget:
            break
        used += size
        count += 1
    if count == total:
        return None
    del items[count:]
    return (
        f"Only {count} of {total} items fit in one result: ask for a smaller perPage, or"
        " fewer fields (leaving out 'body' saves the most)."
    )


def _fallback(text: str, cap: int, notes: list[str]) -> str:
    """One enormous value: valid JSON holding as much of the answer's text as fits."""
    note = "The answer was cut at the size cap; narrow the request."
    keep = cap
    while True:
        keep = keep * 9 // 10
        cut = _dump({"truncated": text[:keep]}, [*notes, note])
        if len(cut) <= cap or keep == 0:
            return cut if len(cut) <= cap else _dump({}, [note])


def _dump(payload: dict[str, Any], notes: list[str]) -> str:
    body = {**payload, "notes": notes} if notes else payload
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
