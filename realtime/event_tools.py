"""Operator tools behind `hubbub events tail` and `hubbub webhooks send`."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import httpx

from shared.events import Envelope, StreamEntry
from shared.store import Store, SubscribingStore
from shared.store.keys import Keys
from webhooks.signature import sign

_POLL_S = 1.0  # the REST store cannot block: it is polled
_BLOCK_MS = 5000


def _matches(envelope: Envelope, repo: str | None) -> bool:
    if repo is None:
        return True
    repository = envelope.repository
    if repository is None:
        return False
    return repo.lower() in (repository.full_name.lower(), str(repository.id))


async def tail_events(
    store: Store,
    keys: Keys,
    *,
    repo: str | None = None,
    count: int | None = None,
    since: str | None = None,
    write: Callable[[str], None] = print,
) -> None:
    """Print each event after `since` (default: from now on) as one JSON line, until
    `count` have been shown."""
    stream = keys.event_stream()
    if since is None:
        newest = await store.xrevrange(stream, count=1)
        since = newest[0][0] if newest else "0-0"
    last = since
    shown = 0
    while count is None or shown < count:
        if isinstance(store, SubscribingStore):
            replies = await store.xread({stream: last}, block_ms=_BLOCK_MS, count=100)
            entries = [entry for _, batch in replies for entry in batch]
        else:
            entries = await store.xrange(stream, f"({last}", "+", count=100)
            if not entries:
                await asyncio.sleep(_POLL_S)
        for entry_id, fields in entries:
            last = entry_id
            envelope = StreamEntry.from_fields(entry_id, fields).envelope
            if _matches(envelope, repo):
                write(json.dumps(envelope.to_dict(), ensure_ascii=False))
                shown += 1
                if count is not None and shown >= count:
                    return


async def send_delivery(
    url: str,
    event: str,
    body: bytes,
    secret: bytes,
    *,
    hook_id: str = "0",
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.Response:
    """Sign the exact bytes as GitHub does and POST them as one delivery."""
    headers = {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/hubbub-cli",
        "x-github-event": event,
        "x-github-delivery": str(uuid.uuid4()),
        "x-github-hook-id": hook_id,
        "x-hub-signature-256": sign(body, secret),
    }
    async with httpx.AsyncClient(transport=transport, timeout=30) as client:
        return await client.post(url, content=body, headers=headers)
