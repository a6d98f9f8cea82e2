"""An issue draft as a Yjs document, and the edits Hubbub itself makes to one.

The shape is what the browser's `yjs` sees under the same names: `title` and `body` are
texts, `labels` and `assignees` are maps used as sets (a key is a member; adding sets it
to true, removing deletes it), `meta` holds the scalar fields and the GitHub version the
draft is based on. Only v1 updates are ever made or read.

pycrdt counts text positions in UTF-8 bytes; everything outside this module counts in
characters (code points), and the conversion happens here only.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pycrdt import Doc, Map, Text, merge_updates

from realtime.drafts.updates import MalformedUpdate, Needs, needs, state_of
from shared.errors import InvalidRequest

# GitHub's own limits on an issue (it answers 422 beyond them).
TITLE_MAX = 256
BODY_MAX = 65_536
LABELS_MAX = 100
ASSIGNEES_MAX = 10
NAME_MAX = 100  # a label or a login
STATES = ("open", "closed")
FIELD_NAMES = ("title", "body", "labels", "assignees", "state", "state_reason", "milestone")
STATE_REASONS = ("completed", "not_planned", "reopened", "duplicate")
# Updates held for a missing dependency, at most per draft: how many, how many bytes, and
# for how long (a client whose update never arrives is asked to sync within a second).
WAITING_MAX = 64
WAITING_MAX_BYTES = 2 * BODY_MAX
HELD_S = 30.0


class DraftTooLarge(InvalidRequest):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="draft_too_large")


@dataclass(frozen=True)
class IssueValues:
    """The editable fields of an issue, as the draft and GitHub both hold them."""

    title: str = ""
    body: str = ""
    labels: frozenset[str] = frozenset()
    assignees: frozenset[str] = frozenset()
    state: str = "open"
    state_reason: str | None = None
    milestone: int | None = None

    @classmethod
    def from_github(cls, issue: dict[str, Any]) -> IssueValues:
        """From GitHub's issue JSON (labels and assignees are objects there)."""
        milestone = issue.get("milestone")
        return cls(
            title=str(issue.get("title") or ""),
            body=str(issue.get("body") or ""),
            labels=frozenset(_names(issue.get("labels"), "name")),
            assignees=frozenset(_names(issue.get("assignees"), "login")),
            state=issue.get("state") if issue.get("state") in STATES else "open",
            state_reason=issue.get("state_reason") or None,
            milestone=milestone.get("number") if isinstance(milestone, dict) else None,
        )

    def to_json(self) -> str:
        """A stable text form, for comparing values kept in the Store."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "body": self.body,
            "labels": sorted(self.labels),
            "assignees": sorted(self.assignees),
            "state": self.state,
            "state_reason": self.state_reason,
            "milestone": self.milestone,
        }

    def patch_against(self, github: IssueValues) -> dict[str, Any]:
        """The body of a `PATCH /issues/{n}` that makes GitHub's issue this: only the
        fields that differ, so a save never rewrites what nobody changed."""
        patch: dict[str, Any] = {}
        if self.title != github.title:
            patch["title"] = self.title
        if self.body != github.body:
            patch["body"] = self.body
        if self.labels != github.labels:
            patch["labels"] = sorted(self.labels)
        if self.assignees != github.assignees:
            patch["assignees"] = sorted(self.assignees)
        closing_reason = self.state == "closed" and self.state_reason in (
            "completed",
            "not_planned",
        )
        if self.state != github.state or (
            closing_reason and self.state_reason != github.state_reason
        ):
            patch["state"] = self.state
            if closing_reason:
                patch["state_reason"] = self.state_reason
        if self.milestone != github.milestone:
            patch["milestone"] = self.milestone
        return patch


def _names(items: Any, key: str) -> Iterable[str]:
    if not isinstance(items, list):
        return ()
    return (
        item[key] if isinstance(item, dict) else item
        for item in items
        if isinstance(item, str) or (isinstance(item, dict) and isinstance(item.get(key), str))
    )


@dataclass(frozen=True)
class _Held:
    update: bytes
    needs: Needs
    since: float  # time.monotonic() when it arrived


class Draft:
    """One issue's document on this machine. Every method that changes it returns the
    v1 update it made, to be logged and sent to every other replica and client."""

    def __init__(self, doc: Doc | None = None) -> None:
        self.doc = doc if doc is not None else Doc()
        self.title = self.doc.get("title", type=Text)
        self.body = self.doc.get("body", type=Text)
        self.labels = self.doc.get("labels", type=Map)
        self.assignees = self.doc.get("assignees", type=Map)
        self.meta = self.doc.get("meta", type=Map)
        # What each transaction changed, as Yrs encodes it: applying an update that holds
        # nothing new changes nothing and records nothing.
        self._changes: list[bytes] = []
        self.doc.observe(lambda event: self._changes.append(event.update))
        # Peers' updates that arrived before one they depend on (see updates.py).
        self._waiting: list[_Held] = []
        self._fresh = False  # a held update arrived since held ones were last merged
        self.applied = False  # whether the last `apply`'s own update was integrated

    @classmethod
    def from_updates(cls, *updates: bytes) -> Draft:
        draft = cls()
        first, *rest = (*updates, b"")
        if first:
            # The snapshot (or a whole state) stands on its own: applied as it is, never
            # held back whole for one item in it that waits.
            draft.doc.apply_update(first)
        for update in rest:
            if update:
                # One at a time through the hold: a merge of them all would be held whole
                # if one had a gap at its start.
                with contextlib.suppress(MalformedUpdate):
                    draft.apply(update)
        draft._changes.clear()
        return draft

    @classmethod
    def seeded(cls, values: IssueValues, updated_at: str) -> Draft:
        """A new draft holding GitHub's issue: its first update is the draft's base."""
        draft = cls()
        with draft.doc.transaction(origin="github"):
            draft.title.insert(0, values.title)
            draft.body.insert(0, values.body)
            for name in values.labels:
                draft.labels[name] = True
            for login in values.assignees:
                draft.assignees[login] = True
            draft.meta["state"] = values.state
            draft.meta["state_reason"] = values.state_reason
            draft.meta["milestone"] = values.milestone
            draft.meta["base_updated_at"] = updated_at
        draft._changes.clear()
        return draft

    # --- reading --------------------------------------------------------------------

    def values(self) -> IssueValues:
        milestone = self.meta.get("milestone")
        reason = self.meta.get("state_reason")
        state = self.meta.get("state")
        return IssueValues(
            title=str(self.title),
            body=str(self.body),
            labels=frozenset(k for k, v in self.labels.items() if v is not None),
            assignees=frozenset(k for k, v in self.assignees.items() if v is not None),
            state=state if state in STATES else "open",
            state_reason=reason if isinstance(reason, str) else None,
            milestone=int(milestone) if isinstance(milestone, (int, float)) else None,
        )

    @property
    def base_updated_at(self) -> str | None:
        value = self.meta.get("base_updated_at")
        return value if isinstance(value, str) else None

    def state(self) -> bytes:
        """The whole document as one update."""
        return self.doc.get_update()

    def check_size(self) -> None:
        """GitHub refuses larger issues; so does the draft, with the reason."""
        body = len(str(self.body))
        if body > BODY_MAX:
            raise DraftTooLarge(f"the body is {body} characters; GitHub allows {BODY_MAX}")
        title = len(str(self.title))
        if title > TITLE_MAX:
            raise DraftTooLarge(f"the title is {title} characters; GitHub allows {TITLE_MAX}")
        if len(self.labels) > LABELS_MAX:
            raise DraftTooLarge(f"an issue has at most {LABELS_MAX} labels")
        if len(self.assignees) > ASSIGNEES_MAX:
            raise DraftTooLarge(f"an issue has at most {ASSIGNEES_MAX} assignees")

    # --- changing -------------------------------------------------------------------

    def apply(self, update: bytes) -> bytes | None:
        """Apply a peer's update, or hold it until what it depends on has arrived; what
        became new here (this update, and any held ones it let through), or None.
        `applied` then says whether this update itself was integrated. MalformedUpdate if
        it is not a v1 update Yrs can read."""
        wanted = needs(update)
        try:
            # Yrs decodes the contents too (`needs` only skips over them): an update it
            # cannot read must not be held, or logged, to fail later.
            merge_updates(update, update)
        except Exception as error:
            raise MalformedUpdate("Yrs cannot decode the update") from error
        self._waiting.append(_Held(update, wanted, time.monotonic()))
        self._fresh = True
        self.applied = False
        self._release(update)
        return self._taken()

    def _release(self, arrived: bytes | None = None) -> None:
        """Apply every held update whose dependencies are here, until none is."""
        released = True
        while released and self._waiting:
            released = False
            state = state_of(self.doc.get_state())
            for entry in self._waiting:
                if entry.needs.met_by(state):
                    self._waiting.remove(entry)
                    with contextlib.suppress(Exception):  # checked on arrival; never fatal
                        self.doc.apply_update(entry.update)
                    self.applied = self.applied or entry.update is arrived
                    released = True
                    break
            else:
                released = self._release_merged(state, arrived)
        # A gap that never fills (its sender is gone) heals by sync, not by waiting: the
        # oldest go first past the bounds, and any that waited HELD_S.
        expired = time.monotonic() - HELD_S
        while self._waiting and (
            len(self._waiting) > WAITING_MAX
            or sum(len(held.update) for held in self._waiting) > WAITING_MAX_BYTES
            or self._waiting[0].since < expired
        ):
            self._waiting.pop(0)

    def _release_merged(self, state: dict[int, int], arrived: bytes | None) -> bool:
        """Held updates that fill each other's holes (one skips what another holds) are
        ready together, though neither is alone: merging takes any order. Tried once per
        new arrival, not on every keystroke while something waits."""
        if len(self._waiting) < 2 or not self._fresh:
            return False
        self._fresh = False
        merged = merge_updates(*(held.update for held in self._waiting))
        if not needs(merged).met_by(state):
            return False
        self.applied = self.applied or any(held.update is arrived for held in self._waiting)
        self._waiting.clear()
        self.doc.apply_update(merged)
        return True

    @property
    def held(self) -> int:
        """How many updates wait for one they depend on."""
        return len(self._waiting)

    def held_within(self, seconds: float) -> bool:
        """Whether an update arrived in the last `seconds` and still waits (older ones
        are expected to heal by sync, or not at all: their sender may be gone)."""
        recent = time.monotonic() - seconds
        return any(held.since >= recent for held in self._waiting)

    @property
    def held_bytes(self) -> int:
        return sum(len(held.update) for held in self._waiting)

    def _taken(self) -> bytes | None:
        changes, self._changes = self._changes, []
        if not changes:
            return None
        return changes[0] if len(changes) == 1 else merge_updates(*changes)

    def would_fit(self, update: bytes) -> bool:
        """Whether applying `update` keeps the draft within GitHub's limits. Each inserted
        character, label or assignee costs the update at least a byte, so a small update
        on a draft well within them cannot break them and is let through without a trial
        copy. MalformedUpdate if Yrs cannot read it."""
        # Held updates count as if they were applied: they will be, all at once, unchecked.
        size = len(update) + self.held_bytes
        # A new key of `labels` or `assignees` costs an update at least an info byte, the
        # parent's name, the key and a value: 12 bytes or more.
        keys = size // 12
        # len() of a pycrdt text counts UTF-8 bytes, never fewer than its characters.
        if size < 1024 and (
            len(self.body) + size <= BODY_MAX
            and len(self.title) + size <= TITLE_MAX
            and len(self.labels) + keys <= LABELS_MAX
            and len(self.assignees) + keys <= ASSIGNEES_MAX
        ):
            return True
        try:
            trial = Draft()
            trial.doc.apply_update(
                merge_updates(self.state(), *(held.update for held in self._waiting), update)
            )
        except Exception as error:
            raise MalformedUpdate("Yrs cannot decode the update") from error
        try:
            trial.check_size()
        except DraftTooLarge:
            return False
        return True

    def operate(self, op: str, args: dict[str, Any], *, origin: str) -> bytes | None:
        """One JSON operation (see `OPERATIONS`), checked first and applied in one
        transaction; a refused operation changes nothing."""
        check = OPERATIONS.get(op)
        if check is None:
            raise InvalidRequest(
                f"'op' must be one of {sorted(OPERATIONS)}", code="invalid_operation"
            )
        check(self, args)
        with self.doc.transaction(origin=origin):
            _APPLY[op](self, args)
        return self._taken()

    def github_changes(
        self, theirs: IssueValues, updated_at: str, fields: Iterable[str]
    ) -> bytes | None:
        """Called on a copy of the draft as it was at its base (when it last matched
        GitHub): the edits that take `fields` (see `moved_fields`) to GitHub's issue now,
        `theirs`, made by a new participant "github", and the new base's stamp. Applied
        to the live draft, which has moved on since the base, they merge with people's
        edits like anyone's would: text is diffed and spliced, never replaced wholesale,
        so nothing typed meanwhile is lost."""
        ours = self.values()
        fields = set(fields)
        with self.doc.transaction(origin="github"):
            if "title" in fields:
                _retype(self.title, ours.title, theirs.title)
            if "body" in fields:
                _retype(self.body, ours.body, theirs.body)
            if "labels" in fields:
                _reset(self.labels, ours.labels, theirs.labels)
            if "assignees" in fields:
                _reset(self.assignees, ours.assignees, theirs.assignees)
            for key in ("state", "state_reason", "milestone"):
                if key in fields:
                    self.meta[key] = getattr(theirs, key)
            self.meta["base_updated_at"] = updated_at
        return self._taken()


def moved_fields(base: IssueValues, theirs: IssueValues) -> frozenset[str]:
    """The fields GitHub changed since the base: all of them are merged, so the fork,
    which becomes the next base, holds GitHub's value for every field."""
    return frozenset(name for name in FIELD_NAMES if getattr(base, name) != getattr(theirs, name))


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _splice(target: Text, current: str, index: int, delete: int, insert: str) -> str:
    start = _byte_offset(current, index)
    if delete:
        end = start + len(current[index : index + delete].encode())
        del target[start:end]
    if insert:
        target.insert(start, insert)
    return current[:index] + insert + current[index + delete :]


def _retype(target: Text, old: str, new: str) -> None:
    """Turn `old` into `new` by the smallest splices (a character diff), applied from the
    end so earlier positions stay valid."""
    if old == new:
        return
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    current = old
    for tag, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):
        if tag != "equal":
            current = _splice(target, current, i1, i2 - i1, new[j1:j2])


def _reset(target: Map, old: frozenset[str], new: frozenset[str]) -> None:
    # Sorted: each change takes the next clock, and the same merge must make the same
    # items in every process (set order follows each process's string hash seed).
    for name in sorted(old - new):
        if name in target:
            del target[name]
    for name in sorted(new - old):
        target[name] = True


# --- the JSON operations -------------------------------------------------------------


def _text(args: dict[str, Any], name: str, limit: int, *, empty: bool = True) -> str:
    value = args.get(name)
    if not isinstance(value, str) or (not empty and not value) or len(value) > limit:
        raise InvalidRequest(
            f"'{name}' must be a string of at most {limit} characters", code="invalid_payload"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON allows and text cannot hold
        raise InvalidRequest(f"'{name}' is not valid Unicode", code="invalid_payload") from None
    return value


def _count(args: dict[str, Any], name: str, limit: int) -> int:
    value = args.get(name, 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise InvalidRequest(
            f"'{name}' must be an integer from 0 to {limit}", code="invalid_payload"
        )
    return value


def _check_title(draft: Draft, args: dict[str, Any]) -> None:
    if not _text(args, "title", TITLE_MAX).strip():
        raise InvalidRequest("an issue's title cannot be empty", code="invalid_payload")


def _check_splice(draft: Draft, args: dict[str, Any]) -> None:
    body = str(draft.body)
    index = _count(args, "index", len(body))
    delete = _count(args, "delete", len(body) - index)
    insert = _text(args, "insert", BODY_MAX) if "insert" in args else ""
    if len(body) - delete + len(insert) > BODY_MAX:
        raise DraftTooLarge(f"the body would exceed GitHub's {BODY_MAX} characters")


def _check_name(key: str, table: str, limit: int, *, adding: bool) -> Any:
    def check(draft: Draft, args: dict[str, Any]) -> None:
        _text(args, key, NAME_MAX, empty=False)
        members: Map = getattr(draft, table)
        if adding and args[key] not in members and len(members) >= limit:
            raise DraftTooLarge(f"an issue has at most {limit} {table}")

    return check


def _check_state(draft: Draft, args: dict[str, Any]) -> None:
    if args.get("state") not in STATES:
        raise InvalidRequest(f"'state' must be one of {list(STATES)}", code="invalid_payload")
    reason = args.get("state_reason")
    if reason is not None and reason not in STATE_REASONS:
        raise InvalidRequest(
            f"'state_reason' must be one of {list(STATE_REASONS)}", code="invalid_payload"
        )


def _check_milestone(draft: Draft, args: dict[str, Any]) -> None:
    value = args.get("milestone")
    if value is not None and (
        not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**31
    ):
        raise InvalidRequest(
            "'milestone' must be a milestone number or null", code="invalid_payload"
        )


def _set_title(draft: Draft, args: dict[str, Any]) -> None:
    _retype(draft.title, str(draft.title), args["title"])


def _splice_body(draft: Draft, args: dict[str, Any]) -> None:
    body = str(draft.body)
    _splice(draft.body, body, args.get("index", 0), args.get("delete", 0), args.get("insert", ""))


def _set_state(draft: Draft, args: dict[str, Any]) -> None:
    draft.meta["state"] = args["state"]
    draft.meta["state_reason"] = args.get("state_reason")


OPERATIONS = {
    "set_title": _check_title,
    "splice_body": _check_splice,
    "add_label": _check_name("label", "labels", LABELS_MAX, adding=True),
    "remove_label": _check_name("label", "labels", LABELS_MAX, adding=False),
    "add_assignee": _check_name("login", "assignees", ASSIGNEES_MAX, adding=True),
    "remove_assignee": _check_name("login", "assignees", ASSIGNEES_MAX, adding=False),
    "set_state": _check_state,
    "set_milestone": _check_milestone,
}


def _member(table: str, key: str, present: bool) -> Any:
    def apply(draft: Draft, args: dict[str, Any]) -> None:
        members: Map = getattr(draft, table)
        if present:
            members[args[key]] = True
        elif args[key] in members:
            del members[args[key]]

    return apply


def _set_milestone(draft: Draft, args: dict[str, Any]) -> None:
    draft.meta["milestone"] = args.get("milestone")


_APPLY = {
    "set_title": _set_title,
    "splice_body": _splice_body,
    "add_label": _member("labels", "label", True),
    "remove_label": _member("labels", "label", False),
    "add_assignee": _member("assignees", "login", True),
    "remove_assignee": _member("assignees", "login", False),
    "set_state": _set_state,
    "set_milestone": _set_milestone,
}
