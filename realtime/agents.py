"""MCP agents in the live rooms: the `live` toolset's side on the persistent server.

An agent that joins an issue becomes a participant like a person's socket: a presence
entry people see (with the agent's name), an editor of the issue's draft, JSON
operations applied and fanned out exactly as a socket's `draft_op`, and saves through
the same writer lease, re-read and merge (drafts/saving.py).

The handle an agent gets is a random id stored in the Store under the agent's user,
with the issue it names: any machine can serve the next call (the stateless protocol
sends each to whichever machine the balancer picks), and another user's call with the
same handle finds nothing. Each machine that serves a handle keeps a participant for it
(a `Member` with no socket) while it is used, and lets it go after AGENT_IDLE_S.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp_server.github import ToolFailure
from proxy.messages import GatewayRequest
from realtime.drafts.saving import save_issue
from realtime.members import Member, Project, new_member
from shared.errors import HubbubError, StoreError
from shared.identity import Identity

if TYPE_CHECKING:
    import asyncio

    from realtime.drafts.replicas import Replica
    from realtime.hub import Hub
    from realtime.projects import Projects

AGENT_IDLE_S = 300.0  # a participant nobody calls for this long leaves the room
HANDLE_TTL_MS = 3_600_000  # a handle outlives its last use by an hour
_WRITE_LEVELS = ("write", "maintain", "admin")
_WRITE_RECHECK_S = 10.0


@dataclass
class Participant:
    handle: str
    member: Member
    project: Project
    number: int
    name: str
    timer: asyncio.TimerHandle | None = None


class AgentRooms:
    """`mcp_server.live.LiveRooms` over this machine's hub."""

    def __init__(self, hub: Hub, projects: Projects) -> None:
        self.hub = hub
        self.projects = projects
        self.here: dict[str, Participant] = {}  # handle -> this machine's participant
        hub.extra_presence.append(self._presence)

    def _presence(self) -> list[tuple[int, dict[str, Any]]]:
        """The entries this machine's heartbeat keeps alive for agents."""
        return [
            (p.project.id, entry)
            for p in self.here.values()
            for entry in p.member.presence.values()
        ]

    # --- LiveRooms ------------------------------------------------------------------------

    async def who_is_here(
        self, identity: Identity, repo: str, number: int | None
    ) -> dict[str, Any]:
        hub = self.hub
        access = await self._readable(identity, repo)
        assert hub.presence is not None
        roster, count = await hub.presence.roster(access.id, hub.settings.presence_roster_max)
        people = [
            {
                "login": entry.get("login"),
                "agent": entry.get("agent"),
                "issue": entry.get("issue"),
                "field": entry.get("field"),
                "status": entry.get("status"),
            }
            for entry in roster
            if number is None or entry.get("issue") == number
        ]
        found: dict[str, Any] = {"repo": access.full_name, "items": people, "count": count}
        if number is None and count > len(roster):
            found["note"] = f"{count} are here; only the first {len(roster)} are listed."
        return found

    async def join(self, identity: Identity, repo: str, number: int, name: str) -> dict[str, Any]:
        hub = self.hub
        access = await self._readable(identity, repo)
        issue = await self._issue(identity, access.full_name, number)
        handle = secrets.token_urlsafe(16)
        record = {
            "repository_id": access.id,
            "repo": access.full_name,
            "number": number,
            "name": name,
        }
        await self._store_record(identity, handle, record)
        participant = await self._enter(identity, handle, record, issue)
        assert hub.presence is not None
        roster, _ = await hub.presence.roster(access.id, hub.settings.presence_roster_max)
        replica = self._replica(participant)
        return {
            "handle": handle,
            "repo": access.full_name,
            "number": number,
            "permission": access.level,
            "draft": replica.state(),
            # Everyone else in the project, and what each has open.
            "people": [
                {key: entry.get(key) for key in ("login", "agent", "issue", "field")}
                for entry in roster
                if entry.get("id") != participant.member.connection_id
            ],
        }

    async def draft(self, identity: Identity, handle: str) -> dict[str, Any]:
        participant = await self._participant(identity, handle)
        replica = self._replica(participant)
        assert self.hub.drafts is not None
        fields = await self.hub.drafts.fields.holders(*replica.key)
        return {"draft": replica.state(), "editing": fields}

    async def propose(
        self, identity: Identity, handle: str, ops: list[dict[str, Any]]
    ) -> dict[str, Any]:
        hub = self.hub
        assert hub.drafts is not None
        participant = await self._participant(identity, handle)
        member = participant.member
        await self._require_write(participant)
        replica = self._replica(participant)
        applied = 0
        version = replica.version
        durable = True
        for index, op in enumerate(ops):
            if not member.edits.take():
                raise ToolFailure(
                    f"Too many edits at once: {applied} applied; send the rest in a moment."
                )
            name, args = _operation(op, str(replica.draft.body))
            try:
                change = replica.draft.operate(name, args, origin=member.connection_id)
            except HubbubError as error:
                raise ToolFailure(
                    f"Edit {index + 1} ({name}) refused: {error}. {applied} before it applied."
                ) from None
            if change is not None:
                hub.drafts.edited(replica, member)
                if hub.metrics is not None:
                    hub.metrics.draft_updates.labels("agent").inc()
            logged = await hub.drafts.apply(replica, change, sid=member.sid)
            version, durable = logged.version, durable and logged.durable
            applied += 1
        return {
            "applied": applied,
            "version": version,
            "durable": durable,
            "draft": replica.state(),
        }

    async def save(self, identity: Identity, handle: str) -> dict[str, Any]:
        assert self.hub.drafts is not None
        participant = await self._participant(identity, handle)
        await self._require_write(participant)
        answer = await save_issue(self.hub.drafts, participant.member, self._replica(participant))
        if not answer.get("ok"):
            error = answer.get("error") or {}
            raise ToolFailure(
                f"Not saved ({error.get('code', 'failed')}): {error.get('message', '')}"
            )
        return {key: value for key, value in answer.items() if key != "ok"}

    async def leave(self, identity: Identity, handle: str) -> dict[str, Any]:
        key = self._record_key(identity, handle)
        participant = await self._participant(identity, handle)
        await self._exit(participant, withdraw=True)
        with contextlib.suppress(StoreError):
            await self.hub.gateway().store.delete(key)
        return {"left": True, "repo": participant.project.full_name, "number": participant.number}

    # --- participants -------------------------------------------------------------------

    def _record_key(self, identity: Identity, handle: str) -> str:
        user = str(identity.user_id) if identity.user_id is not None else identity.token_hash
        return self.hub.gateway().keys.mcp_handle(user, handle)

    async def _store_record(self, identity: Identity, handle: str, record: dict[str, Any]) -> None:
        record = {**record, "machine": self.hub.machine_id}
        await self.hub.gateway().store.set(
            self._record_key(identity, handle), json.dumps(record), px=HANDLE_TTL_MS
        )

    async def _participant(self, identity: Identity, handle: str) -> Participant:
        """The handle's participant here, entering the room on this machine if another
        served it until now; an unknown handle (or another user's) is refused."""
        raw = await self.hub.gateway().store.get(self._record_key(identity, handle))
        if raw is None:
            self._forget(handle)
            raise ToolFailure(
                "Unknown or expired handle: join the issue again with live_join_issue."
            )
        record = json.loads(raw)
        participant = self.here.get(handle)
        if participant is not None and participant.member.identity.partition != identity.partition:
            participant = None  # never another credential's participant, even the same user's
        if participant is None:
            issue = await self._issue(identity, record["repo"], int(record["number"]))
            participant = await self._enter(identity, handle, record, issue)
        if record.get("machine") != self.hub.machine_id:
            await self._store_record(identity, handle, record)
        else:
            with contextlib.suppress(StoreError):
                await self.hub.gateway().store.pexpire(
                    self._record_key(identity, handle), HANDLE_TTL_MS
                )
        self._touch(participant)
        return participant

    async def _enter(
        self, identity: Identity, handle: str, record: dict[str, Any], issue: dict[str, Any]
    ) -> Participant:
        hub = self.hub
        assert hub.drafts is not None and hub.presence is not None
        repository_id, full_name = int(record["repository_id"]), str(record["repo"])
        number = int(record["number"])
        member = new_member(f"agent:{handle}", identity, "mcp", {}, hub.settings)
        project = Project(repository_id, full_name)
        member.projects[repository_id] = project
        await hub.drafts.open(member, repository_id, full_name, issue)
        member.issues.add((repository_id, number))
        entry = {
            "id": member.connection_id,
            "user_id": identity.user_id,
            "login": identity.login,
            "agent": record.get("name") or "agent",
            "repo": full_name,
            "issue": number,
            "field": None,
            "status": "active",
            "since": int(time.time() * 1000),
        }
        member.presence[repository_id] = entry
        participant = Participant(handle, member, project, number, str(entry["agent"]))
        old = self.here.pop(handle, None)
        if old is not None:
            await self._exit(old, withdraw=True)
        self.here[handle] = participant
        count = await hub.presence.put(repository_id, entry)
        await hub.emit_presence(
            repository_id, hub.presence_delta("joined", full_name, entry, count)
        )
        return participant

    async def _exit(self, participant: Participant, *, withdraw: bool) -> None:
        hub = self.hub
        self._forget(participant.handle, participant)
        await hub.close_issue(participant.member, participant.project.id, participant.number)
        entry = participant.member.presence.pop(participant.project.id, None)
        if withdraw and entry is not None:
            await hub.withdraw_presence(entry["id"], participant.project.id, entry)

    def _forget(self, handle: str, participant: Participant | None = None) -> None:
        current = self.here.get(handle)
        if current is not None and (participant is None or current is participant):
            del self.here[handle]
            if current.timer is not None:
                current.timer.cancel()

    def _touch(self, participant: Participant) -> None:
        if participant.timer is not None:
            participant.timer.cancel()
        participant.timer = self.hub.later(AGENT_IDLE_S, lambda: self._idle(participant))

    async def _idle(self, participant: Participant) -> None:
        if self.here.get(participant.handle) is participant:
            await self._exit(participant, withdraw=True)

    def _replica(self, participant: Participant) -> Replica:
        assert self.hub.drafts is not None
        replica = self.hub.drafts.replicas.get((participant.project.id, participant.number))
        if replica is None or participant.member.sid not in replica.editors:
            raise ToolFailure("The draft is not open here any more: join the issue again.")
        return replica

    # --- checks -------------------------------------------------------------------------

    async def _readable(self, identity: Identity, repo: str) -> Any:
        access = await self.hub.gateway().access.lookup(identity, repo)
        if not access.can_read:
            raise ToolFailure(f"Not found: {repo} does not exist, or you cannot see it.")
        return access

    async def _require_write(self, participant: Participant) -> None:
        member, project = participant.member, participant.project
        now = time.monotonic()
        if member.writable.get(project.id, 0) > now:
            return
        access = await self.hub.gateway().access.lookup(member.identity, project.full_name)
        if access.level not in _WRITE_LEVELS:
            member.writable.pop(project.id, None)
            raise ToolFailure(f"No permission: you cannot change issues in {project.full_name}.")
        member.writable[project.id] = now + _WRITE_RECHECK_S

    async def _issue(self, identity: Identity, full_name: str, number: int) -> dict[str, Any]:
        answer = await self.hub.gateway()(
            GatewayRequest(
                method="GET",
                path=f"/repos/{full_name}/issues/{number}",
                query="",
                identity=identity,
            )
        )
        if answer.status in (404, 410):
            raise ToolFailure(f"Not found: {full_name}#{number} does not exist.")
        if answer.status != 200:
            raise ToolFailure(f"GitHub answered {answer.status} for {full_name}#{number}; retry.")
        return json.loads(answer.body)


def _operation(op: dict[str, Any], body: str) -> tuple[str, dict[str, Any]]:
    """An agent's edit as the draft's JSON operation (document.py): the text-anchored
    edits models are good at become a splice at the place they name."""
    name = op["op"]
    if name == "replace_in_body":
        old, new = op.get("old"), op.get("new", "")
        if not old:
            raise ToolFailure("replace_in_body needs 'old', text from the current body.")
        found = body.count(old)
        if found != 1:
            where = "does not occur" if found == 0 else f"occurs {found} times"
            raise ToolFailure(
                f"'old' {where} in the body; give text that occurs exactly once"
                " (read the draft with live_read_draft)."
            )
        return "splice_body", {"index": body.index(old), "delete": len(old), "insert": new}
    if name == "append_to_body":
        return "splice_body", {"index": len(body), "delete": 0, "insert": op.get("text", "")}
    args = {key: value for key, value in op.items() if key != "op"}
    if name == "set_milestone":
        args.setdefault("milestone", None)
    return name, args
