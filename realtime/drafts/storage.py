"""Where drafts outlive machines: a snapshot and an append-only update log per issue.

Each draft is a hash (`snapshot`: the merged document up to log id `upto`; `base`: the
document as it was when it last matched GitHub, and `base_at`, GitHub's `updated_at`
then) and a stream of the updates since. An update is acknowledged to its sender only
once it is in the stream, so an acknowledged edit survives any machine. Compaction folds
the stream into the snapshot (`merge_updates`) under a lease, and trims what it folded in
the same script. Updates are base64 text: the Store speaks strings.

A draft is kept DRAFT_TTL_MS after it was last opened or changed; then it is gone, and
the next open starts again from GitHub.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
from dataclasses import dataclass

from pycrdt import merge_updates

from shared.store import Store, load_script
from shared.store.keys import Keys

APPEND = load_script("draft_append")
CREATE = load_script("draft_create")
COMPACT = load_script("draft_compact")
RELEASE = load_script("lease_release")
RENEW = load_script("lease_renew")

DRAFT_TTL_MS = 30 * 24 * 3600 * 1000
COMPACTOR_LEASE_MS = 10_000


def encode(update: bytes) -> str:
    return base64.b64encode(update).decode("ascii")


def decode(text: str) -> bytes:
    return base64.b64decode(text)


def after(stream_id: str) -> str:
    """The smallest stream id greater than `stream_id`."""
    milliseconds, _, sequence = stream_id.partition("-")
    return f"{milliseconds}-{int(sequence or 0) + 1}"


def newer(a: str, b: str) -> bool:
    """Whether stream id `a` comes after `b`."""
    return _id(a) > _id(b)


def _id(stream_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = stream_id.partition("-")
    return int(milliseconds), int(sequence or 0)


@dataclass(frozen=True)
class Base:
    """The draft as it matched GitHub's issue of `updated_at`."""

    document: bytes
    updated_at: str


@dataclass(frozen=True)
class Announcement:
    """An update another machine logged: `<repository id> <number> <id> <update> <machine>`."""

    repository_id: int
    number: int
    id: str
    update: bytes
    machine_id: str

    @classmethod
    def parse(cls, message: str) -> Announcement | None:
        parts = message.split(" ", 4)
        if len(parts) != 5:
            return None
        try:
            return cls(int(parts[0]), int(parts[1]), parts[2], decode(parts[3]), parts[4])
        except ValueError:
            return None


@dataclass(frozen=True)
class Stored:
    """A draft as the Store holds it: what a replica is built from."""

    snapshot: bytes
    upto: str
    log: list[tuple[str, bytes]]  # (stream id, update), oldest first, all after `upto`
    base: bytes
    base_at: str
    # The draft as a save sent it to GitHub, and the values it sent, recorded before the
    # write: if the answer is lost (the machine dies), GitHub's issue showing exactly
    # these values says the write happened, and `pending` is the base it left.
    pending: bytes = b""
    pending_values: str = ""

    @property
    def last_id(self) -> str:
        return self.log[-1][0] if self.log else self.upto


class DraftStorage:
    def __init__(self, store: Store, keys: Keys, machine_id: str) -> None:
        self.store = store
        self.keys = keys
        self.machine_id = machine_id

    async def load(self, repository_id: int, number: int) -> Stored | None:
        """The draft, or None if there is none (never opened, or expired)."""
        fields, log = await self.store.pipeline(
            [
                ("HGETALL", self.keys.draft(repository_id, number)),
                ("XRANGE", self.keys.draft_log(repository_id, number), "-", "+"),
            ]
        )
        hash_ = dict(zip(fields[::2], fields[1::2], strict=True))
        if "snapshot" not in hash_:
            return None
        upto = hash_.get("upto", "0-0")
        entries = [
            (entry_id, decode(_field(flat, "u")))
            for entry_id, flat in log
            if newer(entry_id, upto) and _field(flat, "u")
        ]
        return Stored(
            snapshot=decode(hash_["snapshot"]),
            upto=upto,
            log=entries,
            base=decode(hash_.get("base") or hash_["snapshot"]),
            base_at=hash_.get("base_at", ""),
            pending=decode(hash_.get("pending", "")),
            pending_values=hash_.get("pending_values", ""),
        )

    async def since(self, repository_id: int, number: int, last_id: str) -> Stored | None:
        """What a replica that has applied up to `last_id` may have missed: the log after
        it, and the snapshot too if a compaction has folded entries it never saw."""
        stored = await self.load(repository_id, number)
        if stored is None:
            return None
        snapshot = stored.snapshot if newer(stored.upto, last_id) else b""
        entries = [(i, u) for i, u in stored.log if newer(i, last_id)]
        return dataclasses.replace(stored, snapshot=snapshot, log=entries)

    async def keep(self, repository_id: int, number: int) -> None:
        """Someone opened the draft: it lives DRAFT_TTL_MS from now."""
        await self.store.pipeline(
            [
                ("PEXPIRE", self.keys.draft(repository_id, number), DRAFT_TTL_MS),
                ("PEXPIRE", self.keys.draft_log(repository_id, number), DRAFT_TTL_MS),
            ]
        )

    async def create(self, repository_id: int, number: int, seed: bytes, base_at: str) -> bool:
        """Store a new draft; False if another machine created it first."""
        created = await self.store.eval_script(
            CREATE,
            [self.keys.draft(repository_id, number)],
            [encode(seed), base_at, DRAFT_TTL_MS],
        )
        return bool(created)

    async def append(
        self, repository_id: int, number: int, updates: list[bytes], base: Base | None = None
    ) -> list[str]:
        """Log updates, in order, and announce each on the replicas' channel (see
        `Announcement`), in one round trip; their stream ids, which order them among every
        machine's. With `base`, the draft's base is recorded in the same step."""
        return await self.store.eval_script(
            APPEND,
            [self.keys.draft_log(repository_id, number), self.keys.draft(repository_id, number)],
            [
                self.machine_id,
                DRAFT_TTL_MS,
                self.keys.draft_channel(),
                f"{repository_id} {number}",
                encode(base.document) if base is not None else "",
                base.updated_at if base is not None else "",
                *(encode(update) for update in updates),
            ],
        )

    async def set_pending(
        self, repository_id: int, number: int, document: bytes, values: str
    ) -> None:
        """What a save is about to write (see `Stored.pending`)."""
        await self.store.hset(
            self.keys.draft(repository_id, number),
            {"pending": encode(document), "pending_values": values},
        )

    async def compact(self, repository_id: int, number: int) -> bool:
        """Fold the log into the snapshot, if no other machine is doing it."""
        lease = self.keys.draft_compactor(repository_id, number)
        owner = secrets.token_hex(8)
        if not await self.store.set(lease, owner, px=COMPACTOR_LEASE_MS, nx=True):
            return False
        try:
            stored = await self.load(repository_id, number)
            if stored is None or not stored.log:
                return False
            merged = merge_updates(stored.snapshot, *(update for _, update in stored.log))
            last = stored.log[-1][0]
            done = await self.store.eval_script(
                COMPACT,
                [
                    self.keys.draft(repository_id, number),
                    self.keys.draft_log(repository_id, number),
                    lease,
                ],
                [owner, encode(merged), last, after(last)],
            )
            return bool(done)
        finally:
            await self.store.eval_script(RELEASE, [lease], [owner, 0])


def _field(flat: list[str], name: str) -> str:
    for index in range(0, len(flat) - 1, 2):
        if flat[index] == name:
            return flat[index + 1]
    return ""
