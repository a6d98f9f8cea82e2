"""The real-time hub: one per process. It owns the Socket.IO server, this machine's
members, presence, the stream relay, and the loops that keep them honest (heartbeat and
sweep, token expiry, slow sockets), and it drains on shutdown.

Handlers live in `connections` (connect, disconnect, token refresh) and `projects`
(rooms, presence, issues); they share this object's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

import socketio

from proxy import Gateway
from realtime.drafts.replicas import Drafts
from realtime.fanout import paused
from realtime.members import Member, Project
from realtime.metrics import RealtimeMetrics, SendCounts
from realtime.ops import OpLog
from realtime.presence import Presence
from realtime.relay import EventRelay
from realtime.rooms import draft_room, issue_room, project_room
from realtime.socket_server import create_socket_server
from shared.config import Settings
from shared.errors import HubbubError, StoreError
from shared.events import Envelope, EventBus
from shared.store import SubscribingStore

log = logging.getLogger("hubbub.realtime")

# How often sockets are checked for an expiring token, an ended session or a full queue.
WATCH_INTERVAL_S = 1.0
# A session token's holder is asked to refresh this long before it expires.
REFRESH_NOTICE_S = 60
# How often the sessions of this machine's sockets are looked up in the Store, for a
# logout whose announcement this machine missed (it is usually heard at once).
SESSION_RECHECK_S = 30
# Every this many heartbeats, each project room here gets a full presence snapshot.
SNAPSHOT_EVERY = 6
_DRAIN_BATCHES = 10
_SHUTDOWN_S = 5.0  # a stop waits this long for its cancelled tasks, and for engine.io's
# Count-only presence deltas (rooms beyond the roster cap) go out at most this often.
COUNT_EVERY_S = 0.2
# Events after which a repository's readers may have changed (webhooks/invalidation.py
# bumps the access decisions they affect).
ACCESS_EVENTS = frozenset(
    {
        "github.member",
        "github.membership",
        "github.team",
        "github.organization",
        "github.repository",
        "github.installation",
        "github.installation_repositories",
    }
)


def default_machine_id() -> str:
    """Fly names its machines; elsewhere, host and pid tell processes apart."""
    return os.environ.get("FLY_MACHINE_ID") or f"{socket.gethostname()}-{os.getpid()}"


class Hub:
    def __init__(self, settings: Settings, gateway: Callable[[], Gateway]) -> None:
        self.settings = settings
        self.gateway = gateway
        self.sio = create_socket_server(settings)
        self.machine_id = settings.machine_id or default_machine_id()
        self.members: dict[str, Member] = {}
        self.sockets_of: Counter[str] = Counter()  # open sockets per caller (limit key)
        self.draining = False
        self.metrics: RealtimeMetrics | None = None
        self.presence: Presence | None = None
        self.relay: EventRelay | None = None
        self.bus: EventBus | None = None
        self.ops: OpLog | None = None
        self.drafts: Drafts | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._dropping: set[str] = set()  # sids being disconnected for a full queue
        self._rechecks: set[int | None] = set()  # access rechecks running, by repository
        self._counts: dict[int, dict[str, Any]] = {}  # count-only deltas waiting, by room
        self._heartbeats = 0
        # Others on this machine that hear every stream event (the MCP server's subscribers).
        self.event_listeners: list[Callable[[Envelope], None]] = []
        # Presence entries held here without a socket (MCP agents: realtime/agents.py).
        self.extra_presence: list[Callable[[], list[tuple[int, dict[str, Any]]]]] = []
        self.session_recheck_s = SESSION_RECHECK_S

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        gateway = self.gateway()
        store, keys = gateway.store, gateway.keys
        self.metrics = RealtimeMetrics(gateway.metrics.registry)
        gateway.metrics.registry.register(SendCounts(self.sio.manager))
        self.presence = Presence(
            store, keys, machine_id=self.machine_id, ttl_s=self.settings.presence_ttl_s
        )
        self.bus = EventBus(
            store,
            keys,
            stream_maxlen=self.settings.event_stream_maxlen,
            repository_maxlen=self.settings.repository_stream_maxlen,
        )
        self.ops = OpLog(store, keys)
        self.drafts = Drafts(self)
        await self.drafts.start()
        if isinstance(store, SubscribingStore):
            self.relay = EventRelay(
                store,
                keys,
                self.sio.emit,
                self.metrics,
                after_batch=self.drop_slow_sockets,
                on_event=self.on_stream_event,
            )
            try:
                await self.relay.start()
            except StoreError:
                log.warning("store unreachable at start-up: live events begin when it is back")
            self._tasks.append(asyncio.create_task(self.relay.run(), name="event-relay"))
        else:
            log.warning("the REST store cannot block on streams: sockets get no live events")
        self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name="presence"))
        self._tasks.append(asyncio.create_task(self._watch_loop(), name="socket-watch"))

    @property
    def ready(self) -> bool:
        return not self.draining and (self.relay is None or self.relay.alive)

    async def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        if self.drafts is not None:
            await self.drafts.stop()
        for member in self.members.values():
            if member.presence_flush is not None:
                member.presence_flush.cancel()
        tasks = [*self._tasks, *self._background]
        for task in tasks:
            task.cancel()
        # Bounded, and without swallowing a cancellation of the stop itself: two full test
        # runs hung here for minutes after a socket had stalled (a task that did not end
        # when cancelled; which one is not known yet), and a stop must not hang.
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=_SHUTDOWN_S)
            for task in done:  # retrieved, as awaiting them did: no "never retrieved" noise
                if not task.cancelled():
                    task.exception()
            if pending:
                names = sorted(task.get_name() for task in pending)
                log.warning("stopping without %d task(s) that did not end: %s", len(names), names)
        self._tasks.clear()
        # engine.io's shutdown waits for its service task to see the stop: bounded too
        # (the timeout cancels that task).
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_SHUTDOWN_S):
                await self.sio.shutdown()

    async def drain(self) -> None:
        """SIGTERM: stop being ready, then move every client elsewhere over
        `HUBBUB_DRAIN_S`, in batches. Each client first hears `server:draining` with the
        delay after which to reconnect: just after its own batch is disconnected, plus a
        jitter within one batch's slot, so the fleet never sees them all at once. Each
        disconnect removes that socket's presence."""
        if self.draining:
            return
        self.draining = True
        sids = list(self.members)
        batches = min(_DRAIN_BATCHES, max(1, len(sids)))
        slot_ms = int(self.settings.drain_s * 1000 / batches)
        log.info("draining %d sockets over %.1f s", len(sids), self.settings.drain_s)
        for index, sid in enumerate(sids):
            batch = index % batches
            # Batch b goes at (b + 1) slots: come back after that, spread over one slot.
            retry_in_ms = (batch + 1) * slot_ms + random.randint(0, slot_ms)
            await self.emit_to(sid, "server:draining", {"retry_in_ms": retry_in_ms})
        for batch in range(batches):
            # Paced on purpose: a fleet's clients should not all reconnect in one instant.
            await asyncio.sleep(slot_ms / 1000)
            for sid in sids[batch::batches]:
                await self.sio.disconnect(sid)

    def background(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` without waiting for it (a reference is kept until it ends)."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def later(
        self, delay_s: float, work: Callable[[], Coroutine[Any, Any, Any]]
    ) -> asyncio.TimerHandle:
        """Run `work` in `delay_s`; cancelling the handle before then drops it."""

        def begin() -> None:
            self.background(work())

        handle = asyncio.get_running_loop().call_later(delay_s, begin)
        return handle

    # --- membership -----------------------------------------------------------------

    async def leave_project(self, member: Member, project: Project) -> None:
        """Out of the project's room and its issue rooms, and out of its presence."""
        sid = member.sid
        member.projects.pop(project.id, None)
        self.sio.manager.basic_leave_room(sid, "/", project_room(project.id))
        for repository_id, number in [i for i in member.issues if i[0] == project.id]:
            await self.close_issue(member, repository_id, number)
        member.pending_presence.pop(project.id, None)
        entry = member.presence.pop(project.id, None)
        if entry is not None:
            await self.withdraw_presence(member.connection_id, project.id, entry)

    async def close_issue(self, member: Member, repository_id: int, number: int) -> None:
        """Out of the issue's rooms, and no longer one of its draft's editors here."""
        member.issues.discard((repository_id, number))
        manager = self.sio.manager
        for room in (
            issue_room(repository_id, number),
            draft_room(repository_id, number, "yjs"),
            draft_room(repository_id, number, "json"),
        ):
            manager.basic_leave_room(member.sid, "/", room)
        if self.drafts is not None:
            await self.drafts.close(member, (repository_id, number))

    async def withdraw_presence(
        self, connection_id: str, repository_id: int, entry: dict[str, Any]
    ) -> None:
        """Remove one presence entry and tell the project; on failure the sweeper will."""
        if self.presence is None:
            return
        try:
            removed, count = await self.presence.remove(repository_id, connection_id)
        except StoreError:
            log.warning("presence removal failed; the sweeper will remove it")
            return
        if removed:
            await self.emit_presence(
                repository_id, self.presence_delta("left", entry["repo"], entry, count)
            )

    def on_stream_event(self, envelope: Envelope) -> None:
        """Events that change who may read a repository make its members here be checked
        again (the webhook has already dropped the cached decision); an issue event for a
        draft open here may bring GitHub's change into it."""
        if self.drafts is not None:
            self.drafts.on_event(envelope)
        for listener in self.event_listeners:
            listener(envelope)
        if envelope.type in ACCESS_EVENTS:
            repository = envelope.repository
            scope = repository.id if repository else None
            # A burst of membership events needs one recheck, not one each.
            if scope not in self._rechecks:
                self._rechecks.add(scope)
                self.background(self._recheck_once(scope))

    async def _recheck_once(self, repository_id: int | None) -> None:
        try:
            await self.recheck_access(repository_id)
        finally:
            self._rechecks.discard(repository_id)

    async def recheck_access(self, repository_id: int | None) -> None:
        """Remove, from every project (or from `repository_id`), the sockets here whose
        caller can no longer read it; each hears `project_left`."""
        access = self.gateway().access
        for member in list(self.members.values()):
            for project in list(member.projects.values()):
                if repository_id is not None and project.id != repository_id:
                    continue
                try:
                    allowed = (await access.lookup(member.identity, project.full_name)).can_read
                except HubbubError:
                    continue  # GitHub unsure: keep them, the next event asks again
                if not allowed and project.id in member.projects:
                    await self.leave_project(member, project)
                    await self.emit_to(
                        member.sid,
                        "project_left",
                        {"repo": project.full_name, "reason": "access_revoked"},
                    )

    # --- emits ----------------------------------------------------------------------

    async def emit_to(self, sid: str, event: str, data: dict[str, Any]) -> None:
        """To one of this machine's sockets, without a trip through the message queue."""
        await self.sio.emit(event, data, to=sid, ignore_queue=True)

    async def emit_presence(
        self, repository_id: int, delta: dict[str, Any], *, skip: str | None = None
    ) -> None:
        """A presence change, to the project's room on every machine (ephemeral plane).

        Beyond the roster cap a delta names no member, only the count, and only the latest
        count matters: those are coalesced to one per room per COUNT_EVERY_S, so a
        thousand people joining a room do not cost a million messages."""
        if "member" not in delta:
            first = repository_id not in self._counts
            self._counts[repository_id] = delta
            if first:
                self.later(COUNT_EVERY_S, lambda: self._emit_count(repository_id))
            return
        with contextlib.suppress(Exception):
            await self.sio.emit("presence", delta, room=project_room(repository_id), skip_sid=skip)

    async def _emit_count(self, repository_id: int) -> None:
        delta = self._counts.pop(repository_id, None)
        if delta is not None:
            with contextlib.suppress(Exception):
                await self.sio.emit("presence", delta, room=project_room(repository_id))

    def presence_delta(
        self, kind: str, full_name: str, entry: dict[str, Any], count: int
    ) -> dict[str, Any]:
        delta: dict[str, Any] = {"type": kind, "repo": full_name, "count": count}
        if count <= self.settings.presence_roster_max:
            delta["member"] = entry
        return delta

    # --- loops ----------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        assert self.presence is not None
        interval = self.settings.presence_ttl_s / 3
        while True:
            try:
                held = [
                    (project, entry)
                    for member in self.members.values()
                    for project, entry in member.presence.items()
                ]
                for extra in self.extra_presence:
                    held.extend(extra())
                await self.presence.heartbeat(held)
                departures = await self.presence.sweep(int(interval * 1000))
                for gone in departures or ():
                    await self.emit_presence(
                        gone.repository_id,
                        self.presence_delta(
                            "left", gone.entry.get("repo", ""), gone.entry, gone.count
                        ),
                    )
                if self.drafts is not None:
                    await self.drafts.log_unlogged()
                    await self.drafts.renew_fields()
                    assert self.metrics is not None
                    self.metrics.drafts.set(len(self.drafts.replicas))
                self._heartbeats += 1
                if self._heartbeats % SNAPSHOT_EVERY == 0:
                    await self._send_snapshots()
            except StoreError:
                log.warning("presence heartbeat failed; retrying")
            except Exception:
                log.exception("presence heartbeat failed")
            await asyncio.sleep(interval)

    async def _send_snapshots(self) -> None:
        """Each project with members here gets the full roster: deltas are fire-and-forget,
        and this heals whatever a client missed."""
        assert self.presence is not None
        projects = {p.id: p.full_name for m in self.members.values() for p in m.projects.values()}
        for repository_id, full_name in projects.items():
            roster, count = await self.presence.roster(
                repository_id, self.settings.presence_roster_max
            )
            await self.sio.emit(
                "presence",
                {"type": "snapshot", "repo": full_name, "members": roster, "count": count},
                room=project_room(repository_id),
                ignore_queue=True,
            )

    async def _watch_loop(self) -> None:
        last_recheck = time.monotonic()
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            try:
                await self._watch()
                if time.monotonic() - last_recheck >= self.session_recheck_s:
                    last_recheck = time.monotonic()
                    await self._recheck_sessions()
            except StoreError:
                log.warning("socket watch could not reach the store")
            except Exception:
                log.exception("socket watch failed")

    async def _recheck_sessions(self) -> None:
        sessions = {m.identity.session_id for m in self.members.values()} - {None}
        ended = await self.gateway().callers.sessions.ended(sorted(s for s in sessions if s))
        for sid, member in list(self.members.items()):
            if member.identity.session_id in ended:
                await self._refuse(sid, "token_revoked", "the session has ended; sign in again")

    async def _watch(self) -> None:
        now = time.time()
        callers = self.gateway().callers
        rooms: set[str] = set()
        for sid, member in list(self.members.items()):
            identity = member.identity
            rooms.update(project_room(p) for p in member.projects)
            rooms.update(f"{i}:{n}" for i, n in member.issues)
            if identity.session_id is not None and callers.has_ended(identity.session_id):
                await self._refuse(sid, "token_revoked", "the session has ended; sign in again")
                continue
            expires_at = identity.expires_at
            if expires_at is None:
                continue
            if now >= expires_at:
                await self._refuse(sid, "token_expired", "the token expired before a refresh")
            elif now >= expires_at - REFRESH_NOTICE_S and not member.warned_expiry:
                member.warned_expiry = True
                await self.emit_to(
                    sid, "auth:expiring", {"expires_in_ms": int((expires_at - now) * 1000)}
                )
        assert self.metrics is not None
        self.metrics.rooms.set(len(rooms))
        self.drop_slow_sockets()

    async def _refuse(self, sid: str, code: str, message: str) -> None:
        await self.emit_to(sid, "auth:ended", {"code": code, "message": message})
        await self.sio.disconnect(sid)

    def drop_slow_sockets(self) -> None:
        """Disconnect sockets that stopped reading: their outgoing queue passed its bound,
        or their connection has taken no data for `HUBBUB_SOCKET_STALL_S` (engine.io's
        writer moves the queue into its own hands, so a stalled peer shows as a paused
        connection more than as a long queue). Such a socket would hold memory until the
        ping timeout; it catches up when it reconnects."""
        bound = self.settings.socket_queue_max
        stall_s = self.settings.socket_stall_s
        now = time.monotonic()
        engine = self.sio.eio
        for sid, member in list(self.members.items()):
            eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
            eio_socket = engine.sockets.get(eio_sid) if eio_sid else None
            if eio_socket is None or sid in self._dropping:
                continue
            if paused(eio_socket):
                member.stalled_since = member.stalled_since or now
            else:
                member.stalled_since = None
            stalled = member.stalled_since is not None and now - member.stalled_since >= stall_s
            if eio_socket.queue.qsize() > bound or stalled:
                assert self.metrics is not None
                self.metrics.dropped.inc()
                log.info("dropping a socket that stopped reading")
                self._dropping.add(sid)
                self.background(self._drop(sid))

    async def _drop(self, sid: str) -> None:
        try:
            await self.sio.disconnect(sid)
        finally:
            self._dropping.discard(sid)


def as_asgi(hub: Hub, app: Any) -> socketio.ASGIApp:
    """Socket.IO at /socket.io/, everything else to the Starlette app, whose lifespan
    (start-up and shutdown) passes through untouched."""
    return socketio.ASGIApp(hub.sio, other_asgi_app=app, socketio_path="socket.io")
