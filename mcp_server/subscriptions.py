"""Telling agents that an issue, a pull request or a repository's activity changed.

One `ResourceUpdated` reaches every subscriber on every machine, whichever protocol era
it speaks:

- `StoreSubscriptionBus` is the SDK's `SubscriptionBus` over the Store's pub/sub: a
  change made here (an agent's write, a saved draft) is published once and every
  machine's listeners hear it. Changes GitHub reports (webhooks) reach every machine
  through the event stream, which each machine reads whole, so those are delivered
  locally (`deliver`) and never published twice.
- `subscriptions/listen` (2026-07-28) is the SDK's own handler on that bus; `gate` makes
  sure a caller watches only what it may read.
- `resources/subscribe` (the session-based leg) is not implemented by `MCPServer`;
  `LegacySubscriptions` records each session's URIs and sends `resources/updated` to it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.subscriptions import ResourceUpdated, ServerEvent
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    EmptyResult,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)

from shared.errors import StoreError
from shared.events import Envelope
from shared.store import Store, SubscribingStore
from shared.store.channel import ChannelFollower
from shared.store.keys import Keys

log = logging.getLogger("hubbub.mcp")

_URI = re.compile(
    r"^github://([A-Za-z0-9-]{1,39})/([A-Za-z0-9._-]{1,100})/(issues|pulls|events)(?:/(\d{1,10}))?$"
)
SUBSCRIPTIONS_PER_SESSION = 100
LISTENS_PER_CALLER = 10


def issue_uri(owner: str, repo: str, number: int) -> str:
    return f"github://{owner}/{repo}/issues/{number}".lower()


def pull_uri(owner: str, repo: str, number: int) -> str:
    return f"github://{owner}/{repo}/pulls/{number}".lower()


def events_uri(owner: str, repo: str) -> str:
    return f"github://{owner}/{repo}/events".lower()


def repo_of(uri: str) -> str | None:
    """`owner/name` of a resource URI Hubbub serves, else None."""
    match = _URI.match(uri.lower())
    return f"{match.group(1)}/{match.group(2)}" if match else None


def uris_for(envelope: Envelope) -> list[str]:
    """The resources an event changes: its repository's activity, and its issue or pull
    request (a pull request is also an issue on GitHub's API, so both are told)."""
    if envelope.repository is None or "/" not in envelope.repository.full_name:
        return []
    owner, repo = envelope.repository.full_name.split("/", 1)
    uris = [events_uri(owner, repo)]
    subject = envelope.subject
    if subject is not None and subject.number is not None:
        if subject.kind == "pull_request":
            uris.append(pull_uri(owner, repo, subject.number))
        uris.append(issue_uri(owner, repo, subject.number))
    return uris


class StoreSubscriptionBus:
    """The SDK's `SubscriptionBus` over the Store's pub/sub, for every machine at once."""

    def __init__(self, store: Callable[[], Store], keys: Callable[[], Keys]) -> None:
        self._store = store
        self._keys = keys
        self._listeners: dict[object, Callable[[ServerEvent], None]] = {}
        self._follower: ChannelFollower | None = None

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        token = object()
        self._listeners[token] = listener
        return lambda: self._listeners.pop(token, None) and None

    async def publish(self, event: ServerEvent) -> None:
        """Every machine's subscribers hear it (this one's too, through the channel)."""
        if not isinstance(event, ResourceUpdated):
            self.deliver(event)
            return
        store = self._store()
        if not isinstance(store, SubscribingStore):
            self.deliver(event)
            return
        try:
            await store.publish(self._keys().mcp_channel(), json.dumps({"uri": event.uri}))
        except StoreError:
            log.warning("store unavailable: a resource change was told to this machine only")
            self.deliver(event)

    def deliver(self, event: ServerEvent) -> None:
        """To this machine's listeners only."""
        for listener in list(self._listeners.values()):
            try:
                listener(event)
            except Exception:  # one broken stream must not starve the others
                log.exception("a subscription listener failed")

    async def start(self) -> None:
        store = self._store()
        if self._follower is None and isinstance(store, SubscribingStore):
            self._follower = ChannelFollower(
                store, self._keys().mcp_channel(), self._hear, "mcp-bus"
            )
            await self._follower.start()

    async def stop(self) -> None:
        if self._follower is not None:
            await self._follower.stop()
            self._follower = None

    def _hear(self, message: str) -> None:
        uri = _uri_of(message)
        if uri is not None:
            self.deliver(ResourceUpdated(uri=uri))


def _uri_of(message: str) -> str | None:
    try:
        uri = json.loads(message).get("uri")
    except (ValueError, AttributeError):
        return None
    return uri if isinstance(uri, str) else None


CanRead = Callable[[str], Any]  # (owner/name) -> awaitable bool, for the current caller


async def _check_readable(uris: list[str], can_read: CanRead) -> None:
    for uri in uris:
        repo = repo_of(uri)
        if repo is None:
            raise MCPError(INVALID_PARAMS, f"Hubbub serves no resource {uri[:200]!r}")
        if not await can_read(repo):
            raise MCPError(INVALID_PARAMS, f"You cannot read {repo}, so you cannot watch {uri}")


class ListenGate:
    """Middleware for `subscriptions/listen`: only resources the caller may read, with
    their URIs in the one spelling changes are told in (GitHub's names ignore case), and
    at most LISTENS_PER_CALLER streams per caller, so that nobody holds the process's
    share of streams alone."""

    def __init__(
        self,
        can_read: CanRead,
        caller: Callable[[], Awaitable[str]],
        listening: Callable[[int], None],
    ) -> None:
        self.can_read = can_read
        self.caller = caller
        self.listening = listening
        self.open: dict[str, int] = {}  # caller -> streams open here

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.method != "subscriptions/listen" or not isinstance(ctx.params, dict):
            return await call_next(ctx)
        notifications = ctx.params.get("notifications")
        uris = (
            notifications.get("resourceSubscriptions") if isinstance(notifications, dict) else None
        )
        if isinstance(notifications, dict) and isinstance(uris, list):
            spelled = [str(uri).lower() for uri in uris]
            await _check_readable(spelled, self.can_read)
            params = {
                **ctx.params,
                "notifications": {**notifications, "resourceSubscriptions": spelled},
            }
            ctx = dataclasses.replace(ctx, params=params)
        caller = await self.caller()
        if self.open.get(caller, 0) >= LISTENS_PER_CALLER:
            raise MCPError(
                INVALID_REQUEST,
                f"At most {LISTENS_PER_CALLER} listen streams at once: close one first",
            )
        self.open[caller] = self.open.get(caller, 0) + 1
        self.listening(1)
        try:
            return await call_next(ctx)
        finally:
            self.listening(-1)
            self.open[caller] -= 1
            if not self.open[caller]:
                del self.open[caller]


class LegacySubscriptions:
    """`resources/subscribe` for session-based clients: each connection's URIs, and the
    `resources/updated` notification sent on its standing stream when one changes.

    A handler's `ctx.session` lives for one request; the client's `Connection` lives as
    long as its session, and is what a later notification must go out on. The SDK (2.3.0,
    pinned) reaches it only through the session's private attribute."""

    def __init__(self, bus: StoreSubscriptionBus, can_read: CanRead) -> None:
        self.can_read = can_read
        self._sessions: weakref.WeakKeyDictionary[Connection, set[str]] = (
            weakref.WeakKeyDictionary()
        )
        bus.subscribe(self._hear)

    async def subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        uri = str(params.uri).lower()
        await _check_readable([uri], self.can_read)
        uris = self._sessions.setdefault(_connection(ctx), set())
        if len(uris) >= SUBSCRIPTIONS_PER_SESSION and uri not in uris:
            raise MCPError(INVALID_PARAMS, f"At most {SUBSCRIPTIONS_PER_SESSION} subscriptions")
        uris.add(uri)
        return EmptyResult()

    async def unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        self._sessions.get(_connection(ctx), set()).discard(str(params.uri).lower())
        return EmptyResult()

    def _hear(self, event: ServerEvent) -> None:
        if not isinstance(event, ResourceUpdated):
            return
        for connection, uris in list(self._sessions.items()):
            if event.uri in uris:
                task = asyncio.get_running_loop().create_task(_tell(connection, event.uri))
                _telling.add(task)
                task.add_done_callback(_telling.discard)


_telling: set[asyncio.Task[None]] = set()  # notifications on their way (kept referenced)


def _connection(ctx: ServerRequestContext[Any, Any]) -> Connection:
    return ctx.session._connection


async def _tell(connection: Connection, uri: str) -> None:
    try:
        await connection.send_resource_updated(uri)
    except Exception:  # the session has gone; its weak entry goes with it
        log.debug("a legacy session could not be told of a change", exc_info=True)
