"""The drafts open on this machine: one replica per issue someone here is editing.

A replica is built from the Store (snapshot + log) on first open, and from then on
applies three kinds of update: its own sockets' (applied, logged, announced, fanned out
to the others here), other machines' (heard on the replicas' channel, fanned out here),
and GitHub's (a webhook or a save found the issue changed: merged as edits by "github",
see document.py). Yjs merges are commutative and idempotent, so replicas that heard the
same updates in any order hold the same document; one that may have missed some (its
subscription dropped) reads the log since the last id it applied, and is whole again.

A replica whose last editor here left is compacted and dropped after IDLE_S: every
acknowledged update is already in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pycrdt import Doc, merge_updates

from proxy import GatewayRequest, GatewayResponse
from realtime.drafts import protocol
from realtime.drafts.document import Draft, IssueValues, moved_fields
from realtime.drafts.leases import FieldLeases, WriterLease
from realtime.drafts.saving import save_issue
from realtime.drafts.storage import Announcement, Base, DraftStorage, newer
from realtime.rooms import draft_room, issue_room
from shared.errors import HubbubError, StoreError
from shared.events import Envelope
from shared.identity import Identity
from shared.store import SubscribingStore

if TYPE_CHECKING:
    from realtime.hub import Hub
    from realtime.members import Member

log = logging.getLogger("hubbub.realtime")

IDLE_S = 10.0
# `draft_changed` goes out at most this often per draft: typing is many small updates.
CHANGED_EVERY_S = 0.05
# Appends on this machine after which it folds the log into the snapshot.
COMPACT_EVERY = 200
_RESUBSCRIBE_S = 1.0
# Awareness clients one socket may speak for (a browser tab has one per document).
AWARENESS_CLIENTS_MAX = 8
# Webhook events after which GitHub's issue may differ from a draft's base.
ISSUE_EVENTS = frozenset({"github.issues"})

Key = tuple[int, int]


@dataclass(frozen=True)
class Logged:
    """A change made here, once `Drafts.apply` is done with it: the draft's version, and
    whether the change is in the Store (False: Redis was unreachable; it is kept and
    logged as soon as Redis answers)."""

    version: str
    durable: bool


@dataclass
class Replica:
    repository_id: int
    number: int
    full_name: str
    draft: Draft
    last_id: str  # the newest log entry applied here: the version editors are told
    # The log id up to which this replica has heard every machine's updates: advanced by
    # the load, the channel (which delivers in log order) and healing, never by this
    # machine's own appends, so healing after a dropped subscription misses nothing.
    heard_id: str = "0-0"
    editors: dict[str, Identity] = field(default_factory=dict)  # sid -> who
    awareness: dict[str, dict[int, int]] = field(default_factory=dict)  # sid -> client -> clock
    focus: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # sid -> field
    holding: set[str] = field(default_factory=set)  # sids whose focus holds its field's lease
    appended: int = 0
    changed: asyncio.TimerHandle | None = None
    unload: asyncio.TimerHandle | None = None
    refreshing: bool = False
    refresh_again: bool = False
    # Changes applied here but not yet in the log, oldest first: (sequence number, change,
    # the base it records if any); appended in batches, in order, by whoever holds
    # `logging`. `logged_seq` is the last sequence number known to be in the log.
    unlogged: list[tuple[int, bytes, Base | None]] = field(default_factory=list)
    next_seq: int = 0
    logged_seq: int = 0
    logging: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Autosave: who last edited here (and may write), and the idle timer.
    last_editor: Member | None = None
    autosave: asyncio.TimerHandle | None = None
    sync_asked: set[str] = field(default_factory=set)  # sids a step 1 is due to

    @property
    def key(self) -> Key:
        return (self.repository_id, self.number)

    @property
    def version(self) -> str:
        return self.last_id

    def state(self) -> dict[str, Any]:
        """What a JSON client sees: the values and the version they are at."""
        return {
            "repo": self.full_name,
            "number": self.number,
            "version": self.version,
            "base_updated_at": self.draft.base_updated_at,
            **self.draft.values().to_dict(),
        }


def fork_client_id(
    key: Key, base: bytes, theirs: IssueValues, updated_at: str, fields: frozenset[str]
) -> int:
    """The Yjs client that makes GitHub's edits: the same for the same edits (the same
    base, the same issue, the same fields changed), so a merge made twice makes the very
    same items, which Yjs applies once. Anything that changes what is edited changes the
    client: one client id must never make two different items at one clock."""
    digest = hashlib.sha256()
    parts = (repr(key), base, repr(sorted(theirs.to_dict().items())), updated_at)
    for part in (*parts, repr(sorted(fields))):
        digest.update(part if isinstance(part, bytes) else part.encode())
    return int.from_bytes(digest.digest()[:8], "big") & (2**53 - 1)


class Drafts:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        gateway = hub.gateway()
        self.store = gateway.store
        self.keys = gateway.keys
        self.storage = DraftStorage(self.store, self.keys, hub.machine_id)
        self.fields = FieldLeases(self.store, self.keys)
        self.replicas: dict[Key, Replica] = {}
        self._loading: dict[Key, asyncio.Future[Replica]] = {}
        self._listener: asyncio.Task[None] | None = None
        self.subscribed = False

    async def start(self) -> None:
        if isinstance(self.store, SubscribingStore):
            ready = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(self.store, ready), name="drafts")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await ready.wait()

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.log_unlogged()  # a last try for edits a blip kept out of the log
        for replica in self.replicas.values():
            for timer in (replica.changed, replica.unload, replica.autosave):
                if timer is not None:
                    timer.cancel()

    # --- opening and closing ----------------------------------------------------------

    async def open(
        self, member: Member, repository_id: int, full_name: str, issue: dict[str, Any]
    ) -> Replica:
        """The issue's replica here, loaded (or created from `issue`, GitHub's JSON as the
        opener just read it) if need be; the member is one of its editors."""
        number = int(issue["number"])
        key = (repository_id, number)
        replica = self.replicas.get(key)
        if replica is None:
            loading = self._loading.get(key)
            if loading is None:
                loading = asyncio.get_running_loop().create_future()
                self._loading[key] = loading
                try:
                    replica = await self._load(repository_id, number, full_name, issue)
                    self.replicas[key] = replica
                    # What was announced between the load's read and now went unheard.
                    await self._catch_up(replica)
                    loading.set_result(replica)
                except BaseException as error:
                    loading.set_exception(error)
                    loading.exception()  # retrieved: waiters re-raise it
                    raise
                finally:
                    del self._loading[key]
            else:
                replica = await asyncio.shield(loading)
        replica.full_name = full_name
        replica.editors[member.sid] = member.identity
        self.hub.background(self._keep(key))
        if replica.unload is not None:
            replica.unload.cancel()
            replica.unload = None
        updated_at = issue.get("updated_at")
        base = replica.draft.base_updated_at
        if isinstance(updated_at, str) and (base is None or updated_at > base):
            # GitHub moved on while nobody had the draft open (or the webhook was missed).
            self.hub.background(self.merge_github(replica, issue))
        return replica

    async def _keep(self, key: Key) -> None:
        with contextlib.suppress(StoreError):
            await self.storage.keep(*key)

    async def _load(
        self, repository_id: int, number: int, full_name: str, issue: dict[str, Any]
    ) -> Replica:
        stored = await self.storage.load(repository_id, number)
        if stored is None:
            updated_at = str(issue.get("updated_at") or "")
            seed = Draft.seeded(IssueValues.from_github(issue), updated_at)
            if await self.storage.create(repository_id, number, seed.state(), updated_at):
                return Replica(repository_id, number, full_name, seed, "0-0", "0-0")
            stored = await self.storage.load(repository_id, number)
            if stored is None:
                raise StoreError("a new draft vanished as it was created")
        draft = Draft.from_updates(stored.snapshot, *(update for _, update in stored.log))
        return Replica(repository_id, number, full_name, draft, stored.last_id, stored.last_id)

    async def close(self, member: Member, key: Key) -> None:
        """The member stops editing: its awareness and field lease go, and the replica
        is unloaded later if nobody here edits it any more."""
        replica = self.replicas.get(key)
        if replica is None or member.sid not in replica.editors:
            return
        del replica.editors[member.sid]
        await self._forget_awareness(replica, member.sid)
        focus = replica.focus.pop(member.sid, None)
        if focus is not None:
            with contextlib.suppress(StoreError):
                await self._release_field(replica, member.sid, *focus)
        if not replica.editors and replica.unload is None:
            replica.unload = self.hub.later(IDLE_S, lambda: self._unload(key))

    async def close_all(self, member: Member) -> None:
        for key in [k for k, r in self.replicas.items() if member.sid in r.editors]:
            await self.close(member, key)

    async def _unload(self, key: Key) -> None:
        replica = self.replicas.get(key)
        if replica is None or replica.editors:
            return
        replica.unload = None
        try:
            await self._log_pending(replica)
        except StoreError:
            # Not yet safe in Redis: stay loaded, and try again later.
            replica.unload = self.hub.later(IDLE_S, lambda: self._unload(key))
            return
        try:
            await self.storage.compact(*key)
        except Exception:  # StoreError, or an update merge_updates refuses
            log.warning("a draft could not be compacted before unloading; its log stays")
        if not replica.editors and self.replicas.get(key) is replica:
            for timer in (replica.changed, replica.autosave):
                if timer is not None:
                    timer.cancel()
            del self.replicas[key]

    # --- updates ----------------------------------------------------------------------

    async def apply(
        self,
        replica: Replica,
        change: bytes | None,
        *,
        sid: str | None = None,
        fan_out: bool = True,
        base: Base | None = None,
    ) -> Logged:
        """A change made here (a socket's update, a JSON operation, GitHub's edits): sent
        to this machine's other editors at once, and logged and announced. Answers once
        the change is safe in the Store or Redis is found unreachable (then it is kept,
        and logged with the next change or at the next heartbeat: a blip loses nothing
        the replica holds). With `base`, the draft's new base is recorded with the change,
        in one step."""
        if change is None:
            return Logged(replica.version, True)
        seq = self._queue(replica, change, base)  # before any await: log order is apply order
        if fan_out:
            await self._fan_out(replica, change, skip=sid)
        try:
            await self._log_pending(replica)
        except StoreError:
            log.warning("a draft update is not logged yet (store unreachable); it is kept")
        if fan_out:
            self._changed(replica)
        replica.appended += 1
        if replica.appended >= COMPACT_EVERY:
            replica.appended = 0
            self.hub.background(self._compact(replica.key))
        return Logged(replica.version, seq <= replica.logged_seq)

    def _queue(self, replica: Replica, change: bytes, base: Base | None = None) -> int:
        replica.next_seq += 1
        replica.unlogged.append((replica.next_seq, change, base))
        return replica.next_seq

    async def _log_pending(self, replica: Replica) -> None:
        """Append what is not yet logged, in the order it was applied here (one machine's
        updates reach the log, and the other replicas, causally ordered): everything
        waiting, in one round trip. Whoever waits for the lock finds its change logged by
        the holder's batch, or logs it with the next batch: an edit waits for at most
        two round trips, however many arrive meanwhile."""
        async with replica.logging:
            batch = list(replica.unlogged)
            if not batch:
                return
            bases = [base for _, _, base in batch if base is not None]
            ids = await self.storage.append(
                *replica.key, [change for _, change, _ in batch], bases[-1] if bases else None
            )
            del replica.unlogged[: len(batch)]
            replica.logged_seq = batch[-1][0]
            if ids and newer(ids[-1], replica.last_id):
                replica.last_id = ids[-1]

    async def _log_later(self, replica: Replica) -> None:
        with contextlib.suppress(StoreError):  # kept for the next change or heartbeat
            await self._log_pending(replica)

    async def log_unlogged(self) -> None:
        """The heartbeat's retry of changes a Redis blip kept out of the log."""
        for replica in list(self.replicas.values()):
            if replica.unlogged:
                with contextlib.suppress(StoreError):
                    await self._log_pending(replica)

    async def _compact(self, key: Key) -> None:
        try:
            await self.storage.compact(*key)
        except Exception:  # StoreError, or an update merge_updates refuses
            log.warning("draft compaction failed; the next one folds more")

    async def _fan_out(self, replica: Replica, change: bytes, *, skip: str | None = None) -> None:
        message = protocol.update(change)
        await self.hub.sio.emit(
            "draft:sync",
            {"repo": replica.full_name, "number": replica.number, "message": message},
            room=draft_room(replica.repository_id, replica.number, "yjs"),
            skip_sid=skip,
            ignore_queue=True,
        )

    def _changed(self, replica: Replica) -> None:
        if replica.changed is None:
            replica.changed = self.hub.later(CHANGED_EVERY_S, lambda: self._send_changed(replica))

    async def _send_changed(self, replica: Replica) -> None:
        replica.changed = None
        await self.hub.sio.emit(
            "draft_changed",
            replica.state(),
            room=draft_room(replica.repository_id, replica.number, "json"),
            ignore_queue=True,
        )

    def _hear(self, message: str) -> None:
        heard = Announcement.parse(message)
        if heard is None:
            return
        replica = self.replicas.get((heard.repository_id, heard.number))
        if replica is None:
            return
        if newer(heard.id, replica.heard_id):
            replica.heard_id = heard.id
        if heard.machine_id == self.hub.machine_id:
            return
        if newer(heard.id, replica.last_id):
            replica.last_id = heard.id
        self._take_in(replica, heard.update)

    def _take_in(self, replica: Replica, update: bytes) -> None:
        """Apply an update another machine logged; send what was new to the editors
        here. If it let through updates held here, those were never logged: the change
        is logged too (the other machine's part again, harmlessly)."""
        held = replica.draft.held
        try:
            change = replica.draft.apply(update)
        except ValueError:
            log.warning("ignoring a draft update Yrs cannot read")
            return
        if change is None:
            return
        if replica.draft.held < held:
            self._queue(replica, change)  # now, so that it is logged before what follows
            self.hub.background(self._log_later(replica))
        self.hub.background(self._fan_out(replica, change))
        self._changed(replica)

    async def _listen(self, store: SubscribingStore, ready: asyncio.Event) -> None:
        channel = self.keys.draft_channel()
        while True:
            try:
                async with store.subscribe(channel) as messages:
                    self.subscribed = True
                    ready.set()
                    await self._heal()
                    async for _, message in messages:
                        self._hear(message)
            except StoreError:
                log.warning("draft channel lost; replicas heal from the log when it is back")
            except Exception:
                log.exception("draft channel listener failed; restarting it")
            finally:
                self.subscribed = False
            ready.set()
            await asyncio.sleep(_RESUBSCRIBE_S)

    async def _heal(self) -> None:
        """Whatever was announced while this machine was not listening is in the log."""
        for replica in list(self.replicas.values()):
            await self._catch_up(replica)

    async def _catch_up(self, replica: Replica) -> None:
        missed = await self.storage.since(*replica.key, replica.heard_id)
        if missed is None:
            return
        for update in (missed.snapshot, *(update for _, update in missed.log)):
            if update:
                self._take_in(replica, update)
        if newer(missed.last_id, replica.heard_id):
            replica.heard_id = missed.last_id
        if newer(missed.last_id, replica.last_id):
            replica.last_id = missed.last_id

    # --- GitHub's side ----------------------------------------------------------------

    def on_event(self, envelope: Envelope) -> None:
        """A webhook about an issue whose draft is open here: GitHub's issue may have moved
        past the draft's base; read it (the webhook made the cache revalidate) and merge."""
        if envelope.type not in ISSUE_EVENTS:
            return
        repository, subject = envelope.repository, envelope.subject
        if repository is None or subject is None or subject.number is None:
            return
        replica = self.replicas.get((repository.id, subject.number))
        if replica is None:
            return
        if replica.refreshing:
            replica.refresh_again = True
            return
        replica.refreshing = True
        self.hub.background(self._refresh(replica))

    async def _refresh(self, replica: Replica) -> None:
        try:
            while True:
                replica.refresh_again = False
                identity = next(iter(replica.editors.values()), None)
                if identity is None:
                    return
                answer = await self.read_issue(identity, replica)
                if answer.status == 200:
                    await self.merge_github(replica, json.loads(answer.body))
                if not replica.refresh_again:
                    return
        except Exception:
            log.exception("merging GitHub's change into a draft failed")
        finally:
            replica.refreshing = False

    async def read_issue(self, identity: Identity, replica: Replica) -> GatewayResponse:
        """GitHub's issue now, asked with `identity` and confirmed with GitHub (free when
        unchanged), right before a merge or a write."""
        return await self.hub.gateway()(
            GatewayRequest(
                method="GET",
                path=f"/repos/{replica.full_name}/issues/{replica.number}",
                query="",
                identity=identity,
                headers={"cache-control": "no-cache"},
            )
        )

    async def merge_github(
        self, replica: Replica, issue: dict[str, Any], *, lease_held: bool = False
    ) -> bool:
        """Make GitHub's `issue` part of the draft, once across the fleet: under the
        writer lease, and only if it is newer than the base recorded in the Store (the
        echo of a save made here is not: the save recorded it as the base)."""
        updated_at = issue.get("updated_at")
        if not isinstance(updated_at, str):
            return False
        if lease_held:
            return await self._merge(replica, issue, updated_at)
        try:
            async with WriterLease(self.store, self.keys, *replica.key, wait_s=10):
                return await self._merge(replica, issue, updated_at)
        except TimeoutError:
            log.warning("a draft's writer lease stayed taken; GitHub's change merges later")
            return False

    async def _merge(self, replica: Replica, issue: dict[str, Any], updated_at: str) -> bool:
        metrics = self.hub.metrics
        stored = await self.storage.load(*replica.key)
        theirs = IssueValues.from_github(issue)
        if stored is None:
            return False
        base = stored.base
        if stored.pending and stored.pending_values == theirs.to_json():
            # GitHub holds exactly what a save sent (its answer never recorded a base):
            # what it wrote is the base, and there is nothing of GitHub's to merge.
            base = stored.pending
        current = updated_at < stored.base_at
        if updated_at == stored.base_at:
            # `updated_at` counts whole seconds: the same stamp may still be a change.
            current = Draft.from_updates(base).values() == theirs
        if current:
            if metrics is not None:
                metrics.draft_merges.labels("current").inc()
            return False
        logged = await self.adopt(replica, base, theirs, updated_at)
        if not logged.durable:
            log.warning("GitHub's change is merged here but not logged yet; it is kept")
        if metrics is not None:
            metrics.draft_merges.labels("merged").inc()
        return True

    async def adopt(
        self, replica: Replica, base: bytes, theirs: IssueValues, updated_at: str
    ) -> Logged:
        """GitHub's issue is `theirs`, and `base` is the draft as it last matched GitHub:
        bring every field GitHub changed since into the draft, and make the result (which
        holds GitHub's value for every field) the new base, in one logged step. A save
        adopts GitHub's answer the same way, from what it wrote, so whatever GitHub did
        not take (an assignee it dropped) leaves the draft too."""
        fork = Draft.from_updates(base)
        fields = moved_fields(fork.values(), theirs)
        fork = Draft(Doc(client_id=fork_client_id(replica.key, base, theirs, updated_at, fields)))
        fork.apply(base)
        change = fork.github_changes(theirs, updated_at, fields)
        assert change is not None  # the new base's stamp, at least
        # Held updates this lets through are new here too: log what was new, or the
        # change itself if the replica must wait for the base's items.
        effective = replica.draft.apply(change)
        return await self.apply(
            replica,
            change if effective is None else merge_updates(change, effective),
            base=Base(fork.state(), updated_at),
        )

    def ask_sync(self, replica: Replica, sid: str, *, delay: float) -> None:
        """In `delay`, send the socket this draft's sync step 1, which a Yjs client answers
        with everything it has that the draft lacks (nearly nothing, if what it waited
        for has arrived meanwhile: asking is cheap, missing a gap is not)."""
        if sid in replica.sync_asked:
            return
        replica.sync_asked.add(sid)

        async def ask() -> None:
            replica.sync_asked.discard(sid)
            if sid not in replica.editors:
                return
            message = protocol.step1(replica.draft.doc.get_state())
            await self.hub.emit_to(
                sid,
                "draft:sync",
                {"repo": replica.full_name, "number": replica.number, "message": message},
            )

        self.hub.later(delay, ask)

    # --- autosave ---------------------------------------------------------------------

    def edited(self, replica: Replica, member: Member) -> None:
        """`member` (who may write) just changed the draft here. With autosave on, the
        draft is saved as them once nobody here has edited it for HUBBUB_DRAFT_AUTOSAVE_S."""
        delay = self.hub.settings.draft_autosave_s
        if delay <= 0:
            return
        replica.last_editor = member
        if replica.autosave is not None:
            replica.autosave.cancel()
        replica.autosave = self.hub.later(delay, lambda: self._autosave(replica))

    async def _autosave(self, replica: Replica) -> None:
        replica.autosave = None
        member = replica.last_editor
        replica.last_editor = None
        if member is None or member.sid not in replica.editors:
            return  # they left: the draft waits for the next editor (or a save)
        try:
            answer = await save_issue(self, member, replica)
        except HubbubError as error:  # the gateway's own refusals, the Store's
            answer = {"ok": False, "error": {"code": error.code, "message": error.message}}
        except Exception:
            log.exception("an autosave failed")
            answer = {"ok": False, "error": {"code": "internal_error", "message": "save failed"}}
        if not answer["ok"]:
            # The saver hears why; the draft is kept, and the next edit tries again.
            await self.hub.emit_to(
                member.sid,
                "issue_save_failed",
                {"repo": replica.full_name, "number": replica.number, "error": answer["error"]},
            )

    # --- who is editing what ------------------------------------------------------------

    async def focus(self, member: Member, replica: Replica, field: str | None) -> dict[str, Any]:
        """The member's cursor is in `field` now (None: nowhere). Answers who holds each
        field's lease."""
        key = replica.key
        previous = replica.focus.pop(member.sid, None)
        if previous is not None and previous[0] != field:
            await self._release_field(replica, member.sid, *previous)
        if field is not None:
            holder = {"id": member.connection_id, "login": member.identity.login}
            replica.focus[member.sid] = (field, holder)
            if await self.fields.take(*key, field, holder) == holder:
                replica.holding.add(member.sid)
            await self._announce_field(replica, field)
        return await self.fields.holders(*key)

    async def _release_field(
        self, replica: Replica, sid: str, field_name: str, holder: dict[str, Any]
    ) -> None:
        """Let go of `field_name`; someone else here focused on it takes it over at once
        (someone on another machine, at that machine's next heartbeat)."""
        replica.holding.discard(sid)
        if await self.fields.release(*replica.key, field_name, holder):
            for other, (wanted, waiting) in list(replica.focus.items()):
                if wanted == field_name and other != sid:
                    if await self.fields.take(*replica.key, wanted, waiting) == waiting:
                        replica.holding.add(other)
                    break
        await self._announce_field(replica, field_name)

    async def _announce_field(self, replica: Replica, field: str) -> None:
        """To the issue's room on every machine: who holds `field` now (None: nobody)."""
        holders = await self.fields.holders(*replica.key)
        await self.hub.sio.emit(
            "draft_field",
            {
                "repo": replica.full_name,
                "number": replica.number,
                "field": field,
                "holder": holders.get(field),
            },
            room=issue_room(replica.repository_id, replica.number),
        )

    async def renew_fields(self) -> None:
        """Keep this machine's field leases while their holders are here, and give a free
        field to whoever here is focused on it."""
        for replica in list(self.replicas.values()):
            for sid, (field_name, holder) in list(replica.focus.items()):
                with contextlib.suppress(StoreError):
                    held = await self.fields.take(*replica.key, field_name, holder) == holder
                    if held and sid not in replica.holding:
                        replica.holding.add(sid)
                        await self._announce_field(replica, field_name)
                    elif not held:
                        replica.holding.discard(sid)

    async def _forget_awareness(self, replica: Replica, sid: str) -> None:
        clients = replica.awareness.pop(sid, None)
        if clients:
            await self.hub.sio.emit(
                "draft:awareness",
                {
                    "repo": replica.full_name,
                    "number": replica.number,
                    "message": protocol.awareness_removal(clients),
                },
                room=draft_room(replica.repository_id, replica.number, "yjs"),
            )

    def note_awareness(self, replica: Replica, sid: str, message: bytes) -> None:
        """Remember which awareness clients a socket speaks for, to retire them when it
        leaves without saying so."""
        entries = protocol.awareness_entries(message)
        clients = replica.awareness.setdefault(sid, {})
        if len(entries) > AWARENESS_CLIENTS_MAX or len(clients) > AWARENESS_CLIENTS_MAX:
            raise ValueError("a socket speaks for a few awareness clients, not many")
        for client_id, clock, present in entries:
            if present:
                clients[client_id] = clock
            else:
                clients.pop(client_id, None)
