"""What a Yjs update needs before it can be applied, read from its v1 encoding.

Yjs integrates an update that arrives before one it depends on by holding it as
"pending" until the gap is filled. Yrs as pycrdt 0.14.13 ships it loses items when
several such updates wait at once: applied in the order (u0, u2, u3, u1) four one-letter
inserts leave two letters, where `yjs` keeps all four (y-crdt issue #632 is of this
family). Updates do arrive out of order here: a client's events are handled
concurrently, machines' log appends race. So a replica never hands Yrs an update whose
dependencies it lacks; it holds it (document.py) until they arrive. Knowing the
dependencies means reading the update's structs, which pycrdt does not expose: this
module decodes just enough of the v1 format (lib0 encoding; Yjs' `readClientsStructRefs`
and `readDeleteSet`) to list, per client, where the update's structs start and end, the
ids it refers to, and the ranges it deletes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Item info bits (Yjs `BIT8`, `BIT7`, `BIT6`) and content refs.
_ORIGIN = 0x80
_RIGHT_ORIGIN = 0x40
_PARENT_SUB = 0x20
_GC, _DELETED, _JSON, _BINARY, _STRING, _EMBED, _FORMAT, _TYPE, _ANY, _DOC, _SKIP = range(11)
_XML_ELEMENT, _XML_HOOK = 3, 5


class MalformedUpdate(ValueError):
    pass


@dataclass
class Needs:
    """Per client: (first clock, clock after the last) of the update's structs; the end
    of the last range it skips (a merged update with a hole in it: the document must
    already hold the hole); the ids it refers to (client -> highest clock); the ranges
    it deletes (client -> end)."""

    blocks: dict[int, tuple[int, int]] = field(default_factory=dict)
    skips: dict[int, int] = field(default_factory=dict)
    refers: dict[int, int] = field(default_factory=dict)
    deletes: dict[int, int] = field(default_factory=dict)

    def met_by(self, state: dict[int, int]) -> bool:
        """Whether a document at `state` (client -> next clock) can integrate it whole."""
        after = dict(state)
        for client, (start, end) in self.blocks.items():
            if start > state.get(client, 0) or self.skips.get(client, 0) > state.get(client, 0):
                return False
            after[client] = max(after.get(client, 0), end)
        for client, clock in self.refers.items():
            if clock >= after.get(client, 0):
                return False
        return all(end <= after.get(client, 0) for client, end in self.deletes.items())


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise MalformedUpdate("the update ends early")
        value = self.data[self.at]
        self.at += 1
        return value

    def uint(self) -> int:
        value = shift = 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
            if shift > 63:
                raise MalformedUpdate("a number is too long")

    def skip_int(self) -> None:
        while self.byte() >= 0x80:
            pass

    def raw(self, length: int) -> bytes:
        if self.at + length > len(self.data):
            raise MalformedUpdate("the update ends early")
        value = self.data[self.at : self.at + length]
        self.at += length
        return value

    def string(self) -> str:
        try:
            return self.raw(self.uint()).decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedUpdate("a string is not UTF-8") from error

    def any(self, depth: int = 0) -> None:
        """Skip one lib0 `any` value."""
        if depth > 64:
            raise MalformedUpdate("a value nests too deep")
        kind = self.byte()
        if kind in (127, 126, 121, 120):  # undefined, null, false, true
            return
        if kind == 125:
            self.skip_int()
        elif kind == 124:
            self.raw(4)
        elif kind in (123, 122):
            self.raw(8)
        elif kind == 119:
            self.string()
        elif kind == 118:
            for _ in range(self.uint()):
                self.string()
                self.any(depth + 1)
        elif kind == 117:
            for _ in range(self.uint()):
                self.any(depth + 1)
        elif kind == 116:
            self.raw(self.uint())
        else:
            raise MalformedUpdate(f"unknown value type {kind}")


def needs(update: bytes) -> Needs:
    """The dependencies of a v1 update; MalformedUpdate if it is not one."""
    reader = _Reader(update)
    found = Needs()

    def refer(client: int, clock: int) -> None:
        found.refers[client] = max(found.refers.get(client, -1), clock)

    for _ in range(reader.uint()):
        structs = reader.uint()
        client = reader.uint()
        start = clock = reader.uint()
        for _ in range(structs):
            info = reader.byte()
            ref = info & 0x1F
            if ref in (_GC, _SKIP):
                clock += reader.uint()
                if ref == _SKIP:
                    found.skips[client] = clock
                continue
            if info & _ORIGIN:
                refer(reader.uint(), reader.uint())
            if info & _RIGHT_ORIGIN:
                refer(reader.uint(), reader.uint())
            if not info & (_ORIGIN | _RIGHT_ORIGIN):
                if reader.uint() == 1:
                    reader.string()  # a root type's name
                else:
                    refer(reader.uint(), reader.uint())
                if info & _PARENT_SUB:
                    reader.string()
            clock += _content_length(reader, ref)
        found.blocks[client] = (start, clock)
    for _ in range(reader.uint()):
        client = reader.uint()
        for _ in range(reader.uint()):
            clock, length = reader.uint(), reader.uint()
            found.deletes[client] = max(found.deletes.get(client, 0), clock + length)
    return found


def _content_length(reader: _Reader, ref: int) -> int:
    if ref == _DELETED:
        return reader.uint()
    if ref == _JSON:
        count = reader.uint()
        for _ in range(count):
            reader.string()
        return count
    if ref == _BINARY:
        reader.raw(reader.uint())
        return 1
    if ref == _STRING:
        # Yjs counts a string's length in UTF-16 code units.
        return sum(2 if ord(ch) > 0xFFFF else 1 for ch in reader.string())
    if ref == _EMBED:
        reader.string()
        return 1
    if ref == _FORMAT:
        reader.string()
        reader.string()
        return 1
    if ref == _TYPE:
        if reader.uint() in (_XML_ELEMENT, _XML_HOOK):
            reader.string()
        return 1
    if ref == _ANY:
        count = reader.uint()
        for _ in range(count):
            reader.any()
        return count
    if ref == _DOC:
        reader.string()
        reader.any()
        return 1
    raise MalformedUpdate(f"unknown content type {ref}")


def state_of(state_vector: bytes) -> dict[int, int]:
    """A document's state vector (`Doc.get_state()`) as client -> next clock."""
    reader = _Reader(state_vector)
    return {reader.uint(): reader.uint() for _ in range(reader.uint())}
