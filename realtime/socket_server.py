"""The Socket.IO server as Hubbub configures it.

WebSocket only: long-polling would need sticky sessions across machines. Origins are the
configured dashboards and Hubbub's own. Incoming messages are bounded. Messages between machines go
through `AsyncRedisManager` on the native store (the ephemeral plane), with TCP keepalive
and no socket read timeout: a read timeout makes its blocking listen time out in quiet
periods and resubscribe forever. With the embedded store there is one process, and the
in-process manager is enough. Both managers broadcast the fast way (realtime/fanout.py).
"""

from __future__ import annotations

import logging
from typing import Any

import socketio

from realtime.fanout import FanoutManager, RedisFanoutManager
from shared.config import Settings


class OriginPolicy:
    """Browsers may connect from the configured dashboards and from Hubbub's own origin
    (its pages, and `hubbub dev`): engine.io's list alone would refuse the latter as soon
    as any dashboard is configured. Clients that send no Origin (not browsers) pass."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.allowed = frozenset(settings.allowed_origins)

    def __call__(self, origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None:
            return True
        origin = origin.lower()
        return origin in self.allowed or origin == self.own_origin(environ)

    def own_origin(self, environ: dict[str, Any]) -> str:
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/").lower()
        scheme = "https" if environ.get("wsgi.url_scheme") in {"https", "wss"} else "http"
        host = environ.get("HTTP_HOST", "")
        if self.settings.trust_proxy_headers:
            scheme = environ.get("HTTP_X_FORWARDED_PROTO", scheme).split(",")[0].strip()
            host = environ.get("HTTP_X_FORWARDED_HOST", host).split(",")[0].strip()
        return f"{scheme}://{host}".lower()


def client_manager(settings: Settings) -> FanoutManager | RedisFanoutManager:
    if settings.redis_url is None:
        return FanoutManager()
    return RedisFanoutManager(
        str(settings.redis_url),
        channel=f"{settings.key_prefix}socketio",
        redis_options={
            "socket_keepalive": True,
            "socket_connect_timeout": 5,
            "health_check_interval": 30,
        },
    )


def _quiet(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.setLevel(logging.ERROR)
    return logger


def create_socket_server(settings: Settings) -> socketio.AsyncServer:
    manager = client_manager(settings)
    server = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        transports=["websocket"],
        cors_allowed_origins=OriginPolicy(settings),
        cors_credentials=False,
        max_http_buffer_size=settings.socket_max_message_bytes,
        # Our loggers, at ERROR: with `False` each library adds its own stderr handler,
        # and its errors came out twice, once outside the JSON format.
        logger=_quiet("hubbub.socketio"),
        engineio_logger=_quiet("hubbub.engineio"),
        always_connect=False,
    )
    manager.enable_direct_write(settings.direct_write)
    return server
