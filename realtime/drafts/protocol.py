"""The Yjs wire messages drafts exchange, framed as y-protocols frames them (a message
type, a sync step, a length-prefixed payload), so a browser's `y-protocols/sync` and
`y-protocols/awareness` read and write them unchanged. pycrdt exports the framing
primitives but not every message builder; these few are written here.
"""

from __future__ import annotations

from pycrdt import Decoder, YMessageType, YSyncMessageType, write_message, write_var_uint


def sync_message(kind: YSyncMessageType, payload: bytes) -> bytes:
    return bytes([YMessageType.SYNC, kind]) + write_message(payload)


def step1(state_vector: bytes) -> bytes:
    return sync_message(YSyncMessageType.SYNC_STEP1, state_vector)


def step2(update: bytes) -> bytes:
    return sync_message(YSyncMessageType.SYNC_STEP2, update)


def update(change: bytes) -> bytes:
    return sync_message(YSyncMessageType.SYNC_UPDATE, change)


def read_sync(message: bytes) -> tuple[int, bytes]:
    """(sync step, payload) of a y-sync message; ValueError if it is not one."""
    if len(message) < 3 or message[0] != YMessageType.SYNC:
        raise ValueError("not a y-sync message")
    try:
        payload = Decoder(message[2:]).read_message()
    except (IndexError, RuntimeError) as error:
        raise ValueError("not a y-sync message") from error
    if payload is None or message[1] not in tuple(YSyncMessageType):
        raise ValueError("not a y-sync message")
    return message[1], payload


def awareness_entries(message: bytes) -> list[tuple[int, int, bool]]:
    """(client id, clock, whether it has a state) for each entry of an awareness update;
    ValueError if it is not one."""
    decoder = Decoder(message)
    try:
        entries = []
        for _ in range(decoder.read_var_uint()):
            client_id = decoder.read_var_uint()
            clock = decoder.read_var_uint()
            state = decoder.read_var_string()
            entries.append((client_id, clock, state != "null"))
        return entries
    except (IndexError, RuntimeError, UnicodeDecodeError) as error:
        raise ValueError("not a Yjs awareness update") from error


def awareness_removal(clients: dict[int, int]) -> bytes:
    """An awareness update saying these clients are gone (state null, next clock): what a
    browser sends when its tab closes, sent for it when its socket dropped."""
    parts = [write_var_uint(len(clients))]
    for client_id, clock in clients.items():
        parts += [write_var_uint(client_id), write_var_uint(clock + 1), write_var_uint(4), b"null"]
    return b"".join(parts)
