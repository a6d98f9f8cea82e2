"""Connecting, refreshing a token, and disconnecting.

A connection must bring a token (`auth: {token, offsets}`): a Hubbub session token or a
GitHub token, resolved by the identity layer exactly as an HTTP request's would be. A
refusal names its reason in the connect error's message, which socket.io-client shows as
`err.message`: `unauthorized` (with the identity layer's code in `err.data`),
`token_expired`, `rate_limited` or `server_draining`. Connecting joins no room.
"""

from __future__ import annotations

import logging
from typing import Any

from socketio.exceptions import ConnectionRefusedError as Refused

from proxy import parse_repo
from proxy.http_request import client_ip_from
from realtime.hub import Hub
from realtime.members import new_member
from realtime.replies import Ack, acked, ok, payload, refused
from shared.errors import HubbubError, InvalidRequest, NotAuthenticated, RateLimited
from shared.events.bus import parse_stream_id
from shared.identity import digest

log = logging.getLogger("hubbub.realtime")

_MAX_OFFSETS = 100


class Connections:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        sio = hub.sio
        sio.on("connect", self.connect)
        sio.on("disconnect", self.disconnect)
        sio.on("auth:refresh", acked("auth:refresh", self.refresh))

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        hub = self.hub
        metrics = hub.metrics
        assert metrics is not None
        if hub.draining:
            metrics.connects.labels("draining").inc()
            raise Refused(
                "server_draining",
                {
                    "code": "server_draining",
                    "message": "this machine is stopping; connect again",
                    "retry_after_ms": 1000,
                },
            )
        scope = environ.get("asgi.scope", {})
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        client_ip = client_ip_from(scope.get("client"), forwarded, hub.settings)
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            metrics.connects.labels("unauthorized").inc()
            raise Refused(
                "unauthorized", {"code": "token_required", "message": "auth.token is required"}
            )
        gateway = hub.gateway()
        limit = hub.settings.connect_limit
        try:
            await gateway.caller_limit.admit("connect-ip", digest("ip", client_ip), limit)
            identity = await gateway.callers.resolve_auth(auth, client_ip=client_ip)
            await gateway.caller_limit.admit("connect-user", identity.limit_key, limit)
            if hub.sockets_of[identity.limit_key] >= hub.settings.sockets_per_user_max:
                raise RateLimited("too many sockets open", retry_after_s=5, code="too_many_sockets")
        except RateLimited as error:
            metrics.connects.labels("rate_limited").inc()
            metrics.rate_limited.labels("connect").inc()
            raise Refused(
                "rate_limited",
                {
                    "code": error.code,
                    "message": error.message,
                    "retry_after_ms": int(error.retry_after_s * 1000),
                },
            ) from None
        except NotAuthenticated as error:
            reason = "token_expired" if error.code == "token_expired" else "unauthorized"
            metrics.connects.labels(reason).inc()
            raise Refused(reason, {"code": error.code, "message": error.message}) from None
        except HubbubError as error:
            # GitHub or the Store could not vouch for the token just now: worth a retry.
            metrics.connects.labels("unavailable").inc()
            raise Refused("unavailable", {"code": error.code, "message": error.message}) from None
        hub.members[sid] = new_member(
            sid, identity, client_ip, _offsets(auth.get("offsets")), hub.settings
        )
        hub.sockets_of[identity.limit_key] += 1
        metrics.connects.labels("accepted").inc()
        metrics.sockets.set(len(hub.members))
        forget_request_headers(environ)

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        hub = self.hub
        member = hub.members.pop(sid, None)
        if member is None:
            return
        key = member.identity.limit_key
        hub.sockets_of[key] -= 1
        if hub.sockets_of[key] <= 0:
            del hub.sockets_of[key]
        assert hub.metrics is not None
        hub.metrics.sockets.set(len(hub.members))
        if member.presence_flush is not None:
            member.presence_flush.cancel()
        # A copy: a join still in flight may add to it while this awaits.
        for repository_id, entry in list(member.presence.items()):
            await hub.withdraw_presence(member.connection_id, repository_id, entry)
        if hub.drafts is not None:
            await hub.drafts.close_all(member)

    async def refresh(self, sid: str, data: Any) -> Ack:
        """`auth:refresh {token}`: the same user's new token, before the old one expires."""
        hub = self.hub
        member = hub.members.get(sid)
        if member is None:
            return refused("not_connected", "this socket is not connected")
        token = payload(data).get("token")
        if not isinstance(token, str) or not token:
            return refused("invalid_payload", "'token' must be a non-empty string")
        identity = await hub.gateway().callers.resolve_auth(
            {"token": token}, client_ip=member.client_ip
        )
        current = member.identity
        same_user = current.user_id is not None and identity.user_id == current.user_id
        if not same_user or identity.kind != current.kind:
            # A session must stay a session: a GitHub token in its place would outlive
            # the session's logout and expiry.
            return refused("user_mismatch", "a refresh must be the same user's same kind of token")
        member.identity = identity
        member.warned_expiry = False
        expires = identity.expires_at
        return ok(expires_at=int(expires) if expires is not None else None)


def _offsets(raw: Any) -> dict[str, str]:
    """`auth.offsets`: {"owner/name": last stream id}; anything malformed is ignored."""
    if not isinstance(raw, dict):
        return {}
    offsets: dict[str, str] = {}
    for repo, offset in list(raw.items())[:_MAX_OFFSETS]:
        if isinstance(repo, str) and isinstance(offset, str):
            try:
                parse_repo(repo)
                parse_stream_id(offset)
            except (InvalidRequest, ValueError):
                continue
            offsets[repo.lower()] = offset
    return offsets


# What `Connections.connect` reads, and a second connect on one connection reads again.
_KEPT = frozenset({"HTTP_X_FORWARDED_FOR"})


def forget_request_headers(environ: dict[str, Any]) -> None:
    """Drops the handshake's headers once the connect is accepted. engine.io's environ (and
    the ASGI scope inside it) lives as long as the socket, in python-socketio and in the
    frames of engine.io's request handler, and keeps every header twice, about 2 KB a
    socket. engine.io checks CORS and the upgrade before the connect; what a later
    connect on the same connection reads (after a namespace disconnect) is kept."""
    for key in [key for key in environ if key.startswith("HTTP_") and key not in _KEPT]:
        del environ[key]
    scope = environ.get("asgi.scope")
    if isinstance(scope, dict) and "headers" in scope:
        scope["headers"] = []
