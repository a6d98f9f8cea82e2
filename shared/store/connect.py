"""The one place that knows there are three Store backends, and picks one from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.config import Settings
from shared.store.protocol import Store

if TYPE_CHECKING:
    import fakeredis


def connect(settings: Settings, *, embedded_server: fakeredis.FakeServer | None = None) -> Store:
    """A Store for the configured backend; clients are imported only when chosen."""
    backend = settings.store_backend
    if backend == "native":
        from shared.store.native import NativeStore

        return NativeStore.from_url(str(settings.redis_url), timeout_ms=settings.store_timeout_ms)
    if backend == "rest":
        from shared.store.rest import RestStore

        assert settings.upstash_rest_url is not None
        return RestStore(
            settings.upstash_rest_url,
            str(settings.upstash_rest_token),
            timeout_ms=settings.store_timeout_ms,
        )
    from shared.store.embedded import EmbeddedStore

    return EmbeddedStore(embedded_server)
