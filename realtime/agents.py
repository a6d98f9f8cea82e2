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

import asyncio
import contextlib
import hashlib
import json
import secrets
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp_server.github import ToolFailure
from proxy.messages import GatewayRequest
from realtime.drafts.saving import save_issue
from realtime.hub import ACCESS_EVENTS
from realtime.members import Member, Project, new_member
from shared.errors import HubbubError, StoreError
from shared.events import Envelope
from shared.identity import Identity
from shared.store import SubscribingStore, load_script
from shared.store.channel import ChannelFollower

if TYPE_CHECKING:
    from realtime.drafts.replicas import Replica
    from realtime.hub import Hub
    from realtime.projects import Projects

AGENT_IDLE_S = 300.0  # a participant nobody calls for this long leaves the room
HANDLE_TTL_MS = 3_600_000  # a handle outlives its last use by an hour
MOVE = load_script("mcp_handle_move")
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
    used: float = 0.0  # time.monotonic() of its last call


class AgentRooms:
    """`mcp_server.live.LiveRooms` over this machine's hub."""

    def __init__(self, hub: Hub, projects: Projects) -> None:
        self.hub = hub
        self.projects = projects
        self.here: dict[str, Participant] = {}  # handle -> this machine's participant
        # One call at a time per handle enters, moves or leaves; a lock lives while in use.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._follower: ChannelFollower | None = None
        hub.extra_presence.append(self._presence)
        hub.event_listeners.append(self._on_event)

    # --- the fleet ------------------------------------------------------------------------
    # A handle is served where its last call landed, and its record names that machine.
    # A machine that takes it over tells the others (on the `agents` channel), which let
    # their participant go. The presence entry's id is the handle's, so every machine
    # puts the same entry; only the machine the record names (or any, once the record is
    # gone) withdraws it.

    async def start(self) -> None:
        store = self.hub.gateway().store
        if isinstance(store, SubscribingStore) and self._follower is None:
            channel = self.hub.gateway().keys.mcp_agents_channel()
            self._follower = ChannelFollower(store, channel, self._heard, "mcp-agents")
            await self._follower.start()

    async def stop(self) -> None:
        if self._follower is not None:
            await self._follower.stop()
            self._follower = None
        for participant in list(self.here.values()):
            with contextlib.suppress(Exception):
                await self._let_go(participant)

    def _heard(self, message: str) -> None:
        try:
            news = json.loads(message)
            handle, machine = str(news["handle"]), str(news["machine"])
        except (ValueError, KeyError, TypeError):
            return
        participant = self.here.get(handle)
        if participant is not None and machine != self.hub.machine_id:
            self.hub.background(self._let_go(participant, unless_held_here=True))

    async def _announce(self, handle: str) -> None:
        gateway = self.hub.gateway()
        news = json.dumps({"handle": handle, "machine": self.hub.machine_id})
        with contextlib.suppress(StoreError):
            await gateway.store.publish(gateway.keys.mcp_agents_channel(), news)

    def _on_event(self, envelope: Envelope) -> None:
        """A membership change: participants in that repository are checked again, as
        sockets are (the webhook has already dropped the cached decision)."""
        if envelope.type not in ACCESS_EVENTS:
            return
        repository_id = envelope.repository.id if envelope.repository else None
        for participant in list(self.here.values()):
            if repository_id is None or participant.project.id == repository_id:
                self.hub.background(self._recheck(participant))

    async def _recheck(self, participant: Participant) -> None:
        member = participant.member
        try:
            access = await self.hub.gateway().access.lookup(
                member.identity, participant.project.full_name
            )
        except HubbubError:
            return  # GitHub or Redis unsure: the next call checks again
        if not access.can_read:
            await self._let_go(participant, access_lost=True)

    async def _let_go(
        self,
        participant: Participant,
        *,
        access_lost: bool = False,
        unless_held_here: bool = False,
        idle: bool = False,
    ) -> None:
        """This machine's participant goes (idle, told another machine took over, access
        lost, shutting down); its presence entry goes with it only if nobody else holds
        the handle. `unless_held_here`: not if the record names this machine after all (a
        takeover announced before this machine took the handle back)."""
        async with self._lock(participant.handle):
            if self.here.get(participant.handle) is not participant:
                return
            if idle and time.monotonic() - participant.used < AGENT_IDLE_S:
                return  # a call came while this waited
            holder = await self._holder(participant)
            if unless_held_here and holder == self.hub.machine_id:
                return
            withdraw = access_lost or holder in (None, self.hub.machine_id)
            await self._exit(participant, withdraw=withdraw)

    async def _holder(self, participant: Participant) -> str | None:
        """The machine the handle's record names; None once it is gone."""
        key = self._record_key(participant.member.identity, participant.handle)
        try:
            raw = await self.hub.gateway().store.get(key)
        except StoreError:
            return self.hub.machine_id  # unknown: behave as the holder
        return None if raw is None else str(json.loads(raw).get("machine"))

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
        async with self._lock(handle):
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
        """The handle ends, wherever it was served; leaving twice is leaving."""
        key = self._record_key(identity, handle)
        store = self.hub.gateway().store
        async with self._lock(handle):
            raw = await store.get(key)
            participant = self.here.get(handle)
            if participant is not None:
                await self._exit(participant, withdraw=True)
            elif raw is not None:
                record = json.loads(raw)
                entry_id = _presence_id(handle)
                entry = {"id": entry_id, "repo": record["repo"], "agent": record.get("name")}
                await self.hub.withdraw_presence(entry_id, int(record["repository_id"]), entry)
            await store.delete(key)
        await self._announce(handle)  # a machine that served it before lets go too
        if raw is None:
            return {"left": True, "note": "the handle had already ended"}
        record = json.loads(raw)
        return {"left": True, "repo": record["repo"], "number": record["number"]}

    # --- participants -------------------------------------------------------------------

    def _record_key(self, identity: Identity, handle: str) -> str:
        user = str(identity.user_id) if identity.user_id is not None else identity.token_hash
        return self.hub.gateway().keys.mcp_handle(user, handle)

    async def _store_record(self, identity: Identity, handle: str, record: dict[str, Any]) -> None:
        record = {**record, "machine": self.hub.machine_id}
        await self.hub.gateway().store.set(
            self._record_key(identity, handle), json.dumps(record), px=HANDLE_TTL_MS
        )

    def _lock(self, handle: str) -> asyncio.Lock:
        lock = self._locks.get(handle)
        if lock is None:
            lock = self._locks[handle] = asyncio.Lock()
        return lock

    async def _participant(self, identity: Identity, handle: str) -> Participant:
        """The handle's participant here, entering the room on this machine if another
        served it until now; an unknown handle (or another user's) is refused, and so is
        a caller who can no longer read the repository."""
        async with self._lock(handle):
            key = self._record_key(identity, handle)
            raw = await self.hub.gateway().store.get(key)
            participant = self.here.get(handle)
            if raw is None:
                if participant is not None:
                    await self._exit(participant, withdraw=True)
                raise ToolFailure(
                    "Unknown or expired handle: join the issue again with live_join_issue."
                )
            record = json.loads(raw)
            if participant is not None and (
                participant.member.identity.partition != identity.partition
            ):
                # Never another credential's participant, even the same user's.
                await self._exit(participant, withdraw=False)
                participant = None
            access = await self.hub.gateway().access.lookup(identity, record["repo"])
            if not access.can_read:
                if participant is not None:
                    await self._exit(participant, withdraw=True)
                raise ToolFailure(
                    f"Not found: {record['repo']} does not exist, or you cannot see it."
                )
            if participant is None:
                issue = await self._issue(identity, record["repo"], int(record["number"]))
                participant = await self._enter(identity, handle, record, issue)
            if record.get("machine") != self.hub.machine_id:
                moved = {**record, "machine": self.hub.machine_id}
                # Only while the record exists: a leave on another machine meanwhile wins.
                if not await self.hub.gateway().store.eval_script(
                    MOVE, [key], [json.dumps(moved), HANDLE_TTL_MS]
                ):
                    await self._exit(participant, withdraw=True)
                    raise ToolFailure(
                        "Unknown or expired handle: join the issue again with live_join_issue."
                    )
                await self._announce(handle)
            else:
                with contextlib.suppress(StoreError):
                    await self.hub.gateway().store.pexpire(key, HANDLE_TTL_MS)
            self._touch(participant)
            return participant

    async def _enter(
        self,
        identity: Identity,
        handle: str,
        record: dict[str, Any],
        issue: dict[str, Any],
    ) -> Participant:
        """A participant for `handle` on this machine (the caller holds its lock). People
        hear of an arrival, or of an update when the entry was there already (another
        machine served the handle until now)."""
        hub = self.hub
        assert hub.drafts is not None and hub.presence is not None
        repository_id, full_name = int(record["repository_id"]), str(record["repo"])
        number = int(record["number"])
        # Each participant its own sid (a draft's editors are keyed by it); one presence
        # id per handle, whichever machine holds it.
        member = new_member(
            f"agent:{handle}:{secrets.token_hex(4)}", identity, "mcp", {}, hub.settings
        )
        member.connection_id = _presence_id(handle)
        project = Project(repository_id, full_name)
        member.projects[repository_id] = project
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
        participant = Participant(handle, member, project, number, str(entry["agent"]))
        try:
            await hub.drafts.open(member, repository_id, full_name, issue)
            member.issues.add((repository_id, number))
            member.presence[repository_id] = entry
            self.here[handle] = participant
            self._touch(participant)
            count, added = await hub.presence.put_new(repository_id, entry)
        except BaseException:
            await self._exit(participant, withdraw=False)
            raise
        kind = "joined" if added else "updated"
        await hub.emit_presence(repository_id, hub.presence_delta(kind, full_name, entry, count))
        return participant

    async def _exit(self, participant: Participant, *, withdraw: bool) -> None:
        hub = self.hub
        self._forget(participant.handle, participant)
        await hub.close_issue(participant.member, participant.project.id, participant.number)
        entry = participant.member.presence.pop(participant.project.id, None)
        if withdraw and entry is not None:
            await hub.withdraw_presence(entry["id"], participant.project.id, entry)

    def _forget(self, handle: str, participant: Participant) -> None:
        if participant.timer is not None:
            participant.timer.cancel()
        if self.here.get(handle) is participant:
            del self.here[handle]

    def _touch(self, participant: Participant) -> None:
        participant.used = time.monotonic()
        if participant.timer is None:
            participant.timer = self.hub.later(AGENT_IDLE_S, lambda: self._idle(participant))

    async def _idle(self, participant: Participant) -> None:
        """The timer is not moved on every call: when it fires, a participant used since
        is given the rest of its time."""
        participant.timer = None
        left = participant.used + AGENT_IDLE_S - time.monotonic()
        if left > 0:
            participant.timer = self.hub.later(left, lambda: self._idle(participant))
            return
        await self._let_go(participant)

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


def _presence_id(handle: str) -> str:
    """The presence entry of a handle: the same on every machine that serves it."""
    return "agent-" + hashlib.sha256(handle.encode()).hexdigest()[:16]


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
