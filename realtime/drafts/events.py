"""The draft events a client sends about an issue it has open (`open_issue`), each
acknowledged (realtime/replies.py):

- `draft:sync {repo, number, message}`: a y-sync message (bytes). Step 1 is answered
  with step 2 in the ack; step 2 and updates are applied, logged and sent on.
- `draft:awareness {repo, number, message}`: a Yjs awareness update, relayed to the
  issue's Yjs editors on every machine.
- `draft_op {repo, number, op, op_id?, ...}`: a JSON operation (document.py).
- `draft_focus {repo, number, field}`: where this person is editing (null: nowhere).
- `save_issue {repo, number, op_id?}`: write the draft to GitHub (saving.py).

Reading needs what opening needed (read access); every change and every save needs
write access, asked of the gateway again once WRITE_RECHECK_S has passed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pycrdt import YSyncMessageType

from realtime.drafts import protocol, updates
from realtime.drafts.document import Draft
from realtime.drafts.leases import FIELDS
from realtime.drafts.replicas import Drafts, Replica
from realtime.drafts.saving import save_issue
from realtime.replies import Ack, acked, number_field, ok, payload, refused, text_field
from realtime.rooms import draft_room
from shared.errors import Forbidden, InvalidRequest, RateLimited

if TYPE_CHECKING:
    from realtime.hub import Hub
    from realtime.members import Member, Project
    from realtime.projects import Projects

WRITE_RECHECK_S = 10.0
# How long an update may wait for one it depends on before its sender is asked to sync.
RESYNC_AFTER_S = 1.0


class DraftEvents:
    def __init__(self, hub: Hub, projects: Projects) -> None:
        self.hub = hub
        self.projects = projects
        for event, handler in (
            ("draft:sync", self.sync),
            ("draft:awareness", self.awareness),
            ("draft_op", self.operation),
            ("draft_focus", self.focus),
            ("save_issue", self.save),
        ):
            hub.sio.on(event, acked(event, handler))

    @property
    def drafts(self) -> Drafts:
        assert self.hub.drafts is not None
        return self.hub.drafts

    def _open(self, sid: str, data: dict[str, Any]) -> tuple[Member, Project, Replica]:
        member = self.projects.member(sid)
        project = self.projects.joined(member, text_field(data, "repo"))
        number = number_field(data, "number")
        replica = self.drafts.replicas.get((project.id, number))
        if replica is None or sid not in replica.editors:
            raise InvalidRequest(f"open {project.full_name}#{number} first", code="not_open")
        return member, project, replica

    async def _require_write(self, member: Member, project: Project) -> None:
        now = time.monotonic()
        if member.writable.get(project.id, 0) > now:
            return
        access = await self.hub.gateway().access.lookup(member.identity, project.full_name)
        if access.level not in ("write", "maintain", "admin"):
            member.writable.pop(project.id, None)
            raise Forbidden(f"no write access to {project.full_name}", code="forbidden")
        member.writable[project.id] = now + WRITE_RECHECK_S

    def _spend_edit(self, member: Member) -> None:
        if not member.edits.take():
            assert self.hub.metrics is not None
            self.hub.metrics.rate_limited.labels("edit").inc()
            raise RateLimited("too many edits; slow down", retry_after_s=0.5)

    def _message(self, data: dict[str, Any]) -> bytes:
        message = data.get("message")
        if not isinstance(message, bytes) or not message:
            raise InvalidRequest("'message' must be binary", code="invalid_payload")
        return message

    # --- Yjs ----------------------------------------------------------------------------

    async def sync(self, sid: str, data: Any) -> Ack:
        data = payload(data)
        member, project, replica = self._open(sid, data)
        message = self._message(data)
        try:
            kind, body = protocol.read_sync(message)
        except ValueError:
            raise InvalidRequest(
                "'message' is not a y-sync message", code="invalid_message"
            ) from None
        if kind == YSyncMessageType.SYNC_STEP1:
            self.projects.spend_op(member)  # answering costs a pass over the document
            try:
                missing = replica.draft.doc.get_update(body)
            except Exception:  # Yrs rejects a malformed state vector with a bare error
                raise InvalidRequest(
                    "the state vector is malformed", code="invalid_message"
                ) from None
            return ok(message=protocol.step2(missing), version=replica.version)
        if kind not in (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE):
            raise InvalidRequest("unknown y-sync message type", code="invalid_message")
        try:
            await self._require_write(member, project)
        except Forbidden:
            # A viewer answers the server's step 1 too (y-protocols does): fine, as long
            # as it holds nothing the draft lacks (checking may cost a copy: an op).
            if kind != YSyncMessageType.SYNC_STEP2:
                raise
            self.projects.spend_op(member)
            if _adds_nothing(replica, body):
                return ok(version=replica.version, durable=True)
            raise
        try:
            self._spend_edit(member)
        except RateLimited:
            # A Yjs client never sends a refused update again, and all it types next
            # depends on it: once it may, it is asked for everything it has.
            self.drafts.ask_sync(replica, sid, delay=RESYNC_AFTER_S)
            raise
        try:
            fits = replica.draft.would_fit(body)
            change = replica.draft.apply(body) if fits else None
        except ValueError:  # MalformedUpdate
            raise InvalidRequest("the update is malformed", code="invalid_message") from None
        if not fits:
            return refused("draft_too_large", "the draft would exceed GitHub's limits for an issue")
        if not replica.draft.applied:
            # Ahead of an update it depends on: applied, logged and sent on once that
            # arrives. The client is asked for it (and anything else it has) shortly.
            self.drafts.ask_sync(replica, sid, delay=RESYNC_AFTER_S)
            return ok(version=replica.version, durable=False, held=True)
        if change is not None:
            self.drafts.edited(replica, member)
            if self.hub.metrics is not None:
                self.hub.metrics.draft_updates.labels("yjs").inc()
        logged = await self.drafts.apply(replica, change, sid=sid)
        return ok(version=logged.version, durable=logged.durable)

    async def awareness(self, sid: str, data: Any) -> Ack:
        data = payload(data)
        member, _, replica = self._open(sid, data)
        message = self._message(data)
        self._spend_edit(member)  # cursors move with every keystroke: the same budget
        try:
            self.drafts.note_awareness(replica, sid, message)
        except ValueError:
            raise InvalidRequest(
                "'message' is not an awareness update", code="invalid_message"
            ) from None
        await self.hub.sio.emit(
            "draft:awareness",
            {"repo": replica.full_name, "number": replica.number, "message": message},
            room=draft_room(replica.repository_id, replica.number, "yjs"),
            skip_sid=sid,
        )
        return ok()

    # --- JSON ---------------------------------------------------------------------------

    async def operation(self, sid: str, data: Any) -> Ack:
        data = payload(data)
        member, project, replica = self._open(sid, data)
        op = text_field(data, "op", limit=32)
        await self._require_write(member, project)
        self._spend_edit(member)

        async def run() -> Ack:
            change = replica.draft.operate(op, data, origin=member.connection_id)
            if change is not None:
                self.drafts.edited(replica, member)
                if self.hub.metrics is not None:
                    self.hub.metrics.draft_updates.labels("op").inc()
            logged = await self.drafts.apply(replica, change, sid=sid)
            return ok(version=logged.version, durable=logged.durable, draft=replica.state())

        if "op_id" in data:
            assert self.hub.ops is not None
            return await self.hub.ops.once(member.user, data, run)
        return await run()

    async def focus(self, sid: str, data: Any) -> Ack:
        data = payload(data)
        member, project, replica = self._open(sid, data)
        field = data.get("field")
        if field is not None and field not in FIELDS:
            raise InvalidRequest(
                f"'field' must be one of {sorted(FIELDS)} or null", code="invalid_payload"
            )
        self.projects.spend_op(member)
        if field is not None:
            await self._require_write(member, project)  # a lease says "editing"
        holders = await self.drafts.focus(member, replica, field)
        await self.projects.apply_presence(
            member, project, {"issue": replica.number, "field": field, "status": "active"}
        )
        return ok(fields=holders)

    async def save(self, sid: str, data: Any) -> Ack:
        data = payload(data)
        member, project, replica = self._open(sid, data)
        await self._require_write(member, project)
        self.projects.spend_op(member)
        if "op_id" in data:
            assert self.hub.ops is not None
            return await self.hub.ops.once(
                member.user, data, lambda: save_issue(self.drafts, member, replica)
            )
        return await save_issue(self.drafts, member, replica)


def _adds_nothing(replica: Replica, update: bytes) -> bool:
    """Whether `update` holds nothing the draft lacks: no struct past its state, and no
    deletion that changes what it shows (a y-sync step 2 always carries the sender's
    whole delete set, so that is checked on a copy)."""
    try:
        wanted = updates.needs(update)
    except ValueError:
        return False
    state = updates.state_of(replica.draft.doc.get_state())
    if any(end > state.get(client, 0) for client, (_, end) in wanted.blocks.items()):
        return False
    if not wanted.deletes:
        return True
    try:
        return Draft.from_updates(replica.draft.state(), update).values() == replica.draft.values()
    except ValueError:
        return False
