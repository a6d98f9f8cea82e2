"""How the Socket.IO server is configured: what a production deployment relies on."""

from __future__ import annotations

import logging

from redis.asyncio import BlockingConnectionPool
from starlette.datastructures import Secret

from realtime.fanout import PUBLISH_CONNECTIONS, FanoutManager, RedisFanoutManager
from realtime.socket_server import client_manager, create_socket_server
from shared.config import Settings


def test_machines_talk_through_redis_with_keepalive_and_no_read_timeout() -> None:
    settings = Settings(redis_url=Secret("redis://127.0.0.1:6399/0"), key_prefix="t:")
    manager = client_manager(settings)
    assert isinstance(manager, RedisFanoutManager)
    assert manager.channel == "t:socketio"
    # A read timeout would end the blocking listen in every quiet period.
    assert "socket_timeout" not in manager.redis_options
    assert manager.redis_options["socket_keepalive"] is True
    # A burst of publishes waits for a connection instead of failing (nothing connects yet).
    manager._redis_connect()
    pool = manager.redis.connection_pool
    assert isinstance(pool, BlockingConnectionPool)
    assert pool.max_connections == PUBLISH_CONNECTIONS
    assert isinstance(client_manager(Settings()), FanoutManager)  # one process


def test_websocket_only_bounded_messages_and_exact_origins() -> None:
    settings = Settings(
        allowed_origins=("https://dash.example.com",), socket_max_message_bytes=1000
    )
    server = create_socket_server(settings)
    engine = server.eio
    assert engine.transports == ["websocket"]
    assert engine.max_http_buffer_size == 1000
    allowed = engine.cors_allowed_origins
    own = {"wsgi.url_scheme": "http", "HTTP_HOST": "hubbub.test"}
    assert allowed("https://dash.example.com", own)
    assert allowed("http://hubbub.test", own), "Hubbub's own pages"
    assert not allowed("https://evil.example", own)
    assert allowed(None, own), "not a browser: no Origin to check"
    public = create_socket_server(settings.replace(public_url="https://hub.example.com"))
    assert public.eio.cors_allowed_origins("https://hub.example.com", own)
    assert not public.eio.cors_allowed_origins("http://hubbub.test", own)
    # Production loggers off: only errors from either library.
    assert server.logger.level >= logging.ERROR
    assert engine.logger.level >= logging.ERROR
