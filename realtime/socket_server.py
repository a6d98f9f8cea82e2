"""The Socket.IO server as Hubbub configures it.

WebSocket only: long-polling would need sticky sessions across machines. Origins are the
configured dashboards only. Incoming messages are bounded. Messages between machines go
through `AsyncRedisManager` on the native store (the ephemeral plane), with TCP keepalive
and no socket read timeout: a read timeout makes its blocking listen time out in quiet
periods and resubscribe forever. With the embedded store there is one process, and the
in-process manager is enough.
"""

from __future__ import annotations

import socketio

from shared.config import Settings


def client_manager(settings: Settings) -> socketio.AsyncManager:
    if settings.redis_url is None:
        return socketio.AsyncManager()
    return socketio.AsyncRedisManager(
        str(settings.redis_url),
        channel=f"{settings.key_prefix}socketio",
        redis_options={
            "socket_keepalive": True,
            "socket_connect_timeout": 5,
            "health_check_interval": 30,
        },
    )


def create_socket_server(settings: Settings) -> socketio.AsyncServer:
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=client_manager(settings),
        transports=["websocket"],
        # An empty list would switch the origin check off; no origins means same-origin only.
        cors_allowed_origins=list(settings.allowed_origins) or None,
        cors_credentials=False,
        max_http_buffer_size=settings.socket_max_message_bytes,
        logger=False,
        engineio_logger=False,
        always_connect=False,
    )
