"""Project rooms, presence in them, and issue rooms: the events a client sends once it is
connected. Every one is acknowledged (realtime/replies.py).

Joining checks read access through the gateway (so it is cached, and a membership
webhook drops it), shows the caller in the project's presence, and answers with the
room's state: who is here, which issues are open, the last events, and the catch-up
since the caller's offset. The catch-up and the live events meet without a gap or a
duplicate: the catch-up is read up to the relay's position and the socket enters the
room with no await after that read (see realtime/relay.py).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from proxy import GatewayRequest, parse_repo
from realtime.drafts import protocol
from realtime.hub import Hub
from realtime.members import Member, Project
from realtime.replies import Ack, acked, number_field, ok, payload, refused, text_field
from realtime.rooms import draft_room, issue_room, project_room
from shared.errors import InvalidRequest, NotFound, RateLimited, UpstreamUnavailable
from shared.events import Envelope
from shared.events.bus import parse_stream_id

log = logging.getLogger("hubbub.realtime")

RECENT_EVENTS = 20
STATUSES = frozenset({"active", "idle", "away"})
# Reads of the stream racing a busy relay before the join gives up and asks for a resync.
_SETTLE_ATTEMPTS = 10


class Projects:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        for event, handler in (
            ("join_project", self.join_project),
            ("leave_project", self.leave_project),
            ("presence", self.presence),
            ("open_issue", self.open_issue),
            ("close_issue", self.close_issue),
        ):
            hub.sio.on(event, acked(event, handler))

    def member(self, sid: str) -> Member:
        member = self.hub.members.get(sid)
        if member is None:
            raise InvalidRequest("this socket is not connected", code="not_connected")
        return member

    def spend_op(self, member: Member) -> None:
        """Events that change what a socket is in spend its operations budget."""
        if not member.ops.take():
            assert self.hub.metrics is not None
            self.hub.metrics.rate_limited.labels("op").inc()
            raise RateLimited("too many events; slow down", retry_after_s=1)

    def joined(self, member: Member, repo: str) -> Project:
        wanted = repo.lower()
        for project in member.projects.values():
            if project.full_name.lower() == wanted:
                return project
        raise InvalidRequest(f"join {repo} first", code="not_joined")

    # --- join and leave -------------------------------------------------------------

    async def join_project(self, sid: str, data: Any) -> Ack:
        hub = self.hub
        assert hub.metrics is not None and hub.presence is not None
        member = self.member(sid)
        data = payload(data)
        repo = parse_repo(text_field(data, "repo"))
        offset = data.get("offset")
        if offset is not None:
            _check_offset(offset)
        if not member.joins.take():
            hub.metrics.rate_limited.labels("join").inc()
            per_s = hub.settings.socket_joins_per_min / 60
            raise RateLimited("too many joins; slow down", retry_after_s=1 / max(per_s, 1 / 60))
        access = await hub.gateway().access.lookup(member.identity, repo)
        if not access.can_read:
            hub.metrics.joins.labels("forbidden").inc()
            return refused("forbidden", f"no read access to {repo}")
        rejoin = access.id in member.projects
        if not rejoin and member.room_count >= hub.settings.socket_rooms_max:
            return refused("too_many_rooms", "leave a project or an issue before joining another")
        # `auth.offsets` were checked at connect.
        offset = (
            offset
            or member.offsets.get(access.full_name.lower())
            or member.offsets.get(repo.lower())
        )

        entry = member.presence.get(access.id) or {
            "id": member.connection_id,
            "user_id": member.identity.user_id,
            "login": member.identity.login,
            "repo": access.full_name,
            "issue": None,
            "field": None,
            "status": "active",
            "since": int(time.time() * 1000),
        }
        member.presence[access.id] = entry
        try:
            count = await hub.presence.put(access.id, entry)
            roster, count = await hub.presence.roster(access.id, hub.settings.presence_roster_max)
            recent, catch_up, resync = await self._catch_up(access.id, offset)
        except BaseException:
            if not rejoin:
                await self._undo_presence(member, access.id, entry)
            raise

        # No await from here to the ack: the relay's next event finds this socket in the room.
        if hub.members.get(sid) is not member:
            # Disconnected meanwhile: its handler may have run before the entry was put.
            hub.background(self._undo_presence(member, access.id, entry))
            return refused("not_connected", "the socket disconnected while joining")
        member.projects[access.id] = Project(access.id, access.full_name)
        hub.sio.manager.basic_enter_room(sid, "/", project_room(access.id))
        if not rejoin:
            hub.metrics.joins.labels("joined").inc()
            member.offsets.pop(access.full_name.lower(), None)
            hub.background(
                hub.emit_presence(
                    access.id,
                    hub.presence_delta("joined", access.full_name, entry, count),
                    skip=sid,
                )
            )
        hub.metrics.catch_up.observe(len(catch_up))
        if resync:
            hub.metrics.resyncs.inc()
        return ok(
            repo=access.full_name,
            repository_id=access.id,
            permission=access.level,
            presence={"members": roster, "count": count, "you": entry["id"]},
            drafts=_open_issues(roster),
            events=[envelope.to_dict() for envelope in recent],
            catch_up=[envelope.to_dict() for envelope in catch_up],
            resync_required=resync,
        )

    async def _undo_presence(
        self, member: Member, repository_id: int, entry: dict[str, Any]
    ) -> None:
        member.presence.pop(repository_id, None)
        await self.hub.withdraw_presence(member.connection_id, repository_id, entry)

    async def _catch_up(
        self, repository_id: int, offset: str | None
    ) -> tuple[list[Envelope], list[Envelope], bool]:
        """(the last events, the events after `offset`, whether the gap is lost), each up to
        the relay's position at the moment this returns."""
        hub = self.hub
        assert hub.bus is not None
        relay = hub.relay
        bound = relay.position if relay is not None else None
        recent = await hub.bus.recent(repository_id, RECENT_EVENTS)
        catch_up: list[Envelope] = []
        if offset is not None:
            replay = await hub.bus.replay(repository_id, offset)
            if replay.resync_required or replay.more:
                return _upto(recent, bound), [], True
            catch_up = replay.entries
        for _ in range(_SETTLE_ATTEMPTS):
            if relay is None or relay.position == bound:
                return _upto(recent, bound), _upto(catch_up, bound), False
            # The relay delivered more while the stream was read: those events went to the
            # room before this socket was in it, so they belong to the catch-up.
            bound = relay.position
            after = (catch_up[-1].id if catch_up else None) or offset
            if after is None:
                recent = await hub.bus.recent(repository_id, RECENT_EVENTS)
                continue
            replay = await hub.bus.replay(repository_id, after)
            if replay.resync_required or replay.more:
                return _upto(recent, bound), [], True
            catch_up = [*catch_up, *replay.entries]
            recent = [*recent, *replay.entries][-RECENT_EVENTS:]
        log.warning("a join could not settle against a busy stream; asking for a resync")
        return _upto(recent, bound), [], True

    async def leave_project(self, sid: str, data: Any) -> Ack:
        member = self.member(sid)
        project = self.joined(member, text_field(payload(data), "repo"))
        self.spend_op(member)
        await self.hub.leave_project(member, project)
        return ok(repo=project.full_name)

    # --- presence -------------------------------------------------------------------

    async def presence(self, sid: str, data: Any) -> Ack:
        """`presence {repo, issue?, field?, status, op_id?}`: latest wins. Beyond the
        socket's rate, updates are coalesced: the last one is written when the budget
        allows. An op id makes a retried update apply once (a late retry of an old update
        must not undo a newer one)."""
        member = self.member(sid)
        data = payload(data)
        project = self.joined(member, text_field(data, "repo"))
        issue = data.get("issue")
        if issue is not None:
            issue = number_field(data, "issue")
        field = text_field(data, "field", required=False, limit=64)
        status = data.get("status", "active")
        if not isinstance(status, str) or status not in STATUSES:
            raise InvalidRequest(
                f"'status' must be one of {sorted(STATUSES)}", code="invalid_payload"
            )
        update = {"issue": issue, "field": field, "status": status}
        if "op_id" in data:
            assert self.hub.ops is not None
            return await self.hub.ops.once(
                member.user, data, lambda: self.apply_presence(member, project, update)
            )
        return await self.apply_presence(member, project, update)

    async def apply_presence(self, member: Member, project: Project, update: dict[str, Any]) -> Ack:
        hub = self.hub
        current = member.presence.get(project.id)
        if current is None:
            return refused("not_joined", f"join {project.full_name} first")
        member.pending_presence[project.id] = {**current, **update}
        if member.presence_flush is None and member.presence_writes.take():
            await self._flush_presence(member)
            return ok(coalesced=False)
        if hub.metrics is not None:
            hub.metrics.rate_limited.labels("presence").inc()
        if member.presence_flush is None:
            delay = 1 / max(1, hub.settings.socket_presence_per_s)
            member.presence_flush = hub.later(delay, lambda: self._flush_later(member))
        return ok(coalesced=True)

    async def _flush_later(self, member: Member) -> None:
        member.presence_flush = None
        member.presence_writes.take()
        if self.hub.members.get(member.sid) is member:
            await self._flush_presence(member)

    async def _flush_presence(self, member: Member) -> None:
        hub = self.hub
        assert hub.presence is not None
        pending, member.pending_presence = member.pending_presence, {}
        for repository_id, entry in pending.items():
            if repository_id not in member.presence:
                continue  # left meanwhile
            member.presence[repository_id] = entry
            count = await hub.presence.put(repository_id, entry)
            await hub.emit_presence(
                repository_id, hub.presence_delta("updated", entry["repo"], entry, count)
            )

    # --- issues ---------------------------------------------------------------------

    async def open_issue(self, sid: str, data: Any) -> Ack:
        """`open_issue {repo, number, yjs?}`: join the issue's room and become an editor of
        its draft (realtime/drafts). The ack carries the issue as the gateway serves it
        (cached, revalidated, with the caller's identity) and the draft: its values and
        version, and for a Yjs client (`yjs: true`) the y-sync step 1 and step 2 that
        make its document current."""
        hub = self.hub
        assert hub.drafts is not None
        member = self.member(sid)
        data = payload(data)
        project = self.joined(member, text_field(data, "repo"))
        number = number_field(data, "number")
        yjs = data.get("yjs", False)
        if not isinstance(yjs, bool):
            raise InvalidRequest("'yjs' must be true or false", code="invalid_payload")
        self.spend_op(member)
        key = (project.id, number)
        if key not in member.issues and member.room_count >= hub.settings.socket_rooms_max:
            return refused("too_many_rooms", "close an issue or leave a project first")
        answer = await hub.gateway()(
            GatewayRequest(
                method="GET",
                path=f"/repos/{project.full_name}/issues/{number}",
                query="",
                identity=member.identity,
            )
        )
        if answer.status in (404, 410):
            raise NotFound(f"{project.full_name}#{number} does not exist", code="not_found")
        if answer.status != 200:
            raise UpstreamUnavailable(f"GitHub answered {answer.status}", status=502)
        issue = json.loads(answer.body)
        headers = dict(answer.headers)
        replica = await hub.drafts.open(member, project.id, project.full_name, issue)
        fields = await hub.drafts.fields.holders(project.id, number)
        if hub.members.get(sid) is not member:
            await hub.drafts.close(member, key)
            return refused("not_connected", "the socket disconnected while opening")
        member.issues.add(key)
        manager = hub.sio.manager
        manager.basic_enter_room(sid, "/", issue_room(project.id, number))
        manager.basic_leave_room(sid, "/", draft_room(project.id, number, "json" if yjs else "yjs"))
        manager.basic_enter_room(sid, "/", draft_room(project.id, number, "yjs" if yjs else "json"))
        sync: dict[str, bytes] = {}
        if yjs:
            doc = replica.draft.doc
            sync = {
                "sync_step1": protocol.step1(doc.get_state()),
                "sync_step2": protocol.step2(doc.get_update()),
            }
        return ok(
            repo=project.full_name,
            number=number,
            issue=issue,
            etag=headers.get("etag") or headers.get("ETag"),
            cache=answer.outcome.value,
            draft=replica.state(),
            fields=fields,
            **sync,
        )

    async def close_issue(self, sid: str, data: Any) -> Ack:
        member = self.member(sid)
        data = payload(data)
        project = self.joined(member, text_field(data, "repo"))
        number = number_field(data, "number")
        self.spend_op(member)
        await self.hub.close_issue(member, project.id, number)
        return ok(repo=project.full_name, number=number)


def _check_offset(offset: object) -> None:
    try:
        parse_stream_id(offset if isinstance(offset, str) else "")
    except ValueError:
        raise InvalidRequest("'offset' must be a stream id", code="invalid_offset") from None


def _upto(entries: list[Envelope], bound: str | None) -> list[Envelope]:
    if bound is None:
        return entries
    limit = parse_stream_id(bound)
    return [e for e in entries if e.id is not None and parse_stream_id(e.id) <= limit]


def _open_issues(roster: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issues people in the project have open, and who: what the co-editing drafts will
    be keyed on."""
    editors: dict[int, list[str]] = {}
    for entry in roster:
        issue = entry.get("issue")
        if isinstance(issue, int):
            editors.setdefault(issue, []).append(entry.get("login") or "")
    return [{"number": n, "editors": sorted(set(v))} for n, v in sorted(editors.items())]
