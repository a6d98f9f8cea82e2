"""Acknowledgements: every client event is answered `{"ok": true, ...}` or
`{"ok": false, "error": {"code", "message"}}`, the HTTP error shape in an ack.

`acked` wraps a handler so that a refusal raised anywhere below (bad input, no access, a
rate limit, GitHub down) becomes its error ack, and anything unexpected becomes
`internal_error` with the detail in the log, never in the ack.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from shared.errors import HubbubError, InvalidRequest, StoreUnavailable

log = logging.getLogger("hubbub.realtime")

Ack = dict[str, Any]
Handler = Callable[[str, Any], Awaitable[Ack]]


def ok(**fields: Any) -> Ack:
    return {"ok": True, **fields}


def refused(code: str, message: str, **fields: Any) -> Ack:
    return {"ok": False, "error": {"code": code, "message": message, **fields}}


def acked(event: str, handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(sid: str, data: Any = None, *extra: Any) -> Ack:
        if extra:
            return refused("invalid_payload", "an event takes one object argument")
        try:
            return await handler(sid, data)
        except StoreUnavailable:
            return refused("store_unavailable", "Hubbub's store is unreachable; retry shortly")
        except HubbubError as error:
            extra = {}
            retry_after = getattr(error, "retry_after_s", None)
            if retry_after is not None:
                extra["retry_after_ms"] = int(retry_after * 1000)
            return refused(error.code, error.message, **extra)
        except Exception:
            log.exception("socket event %s failed", event)
            return refused("internal_error", "the server could not handle this event")

    return wrapper


def payload(data: Any) -> dict[str, Any]:
    """An event's argument, which must be an object."""
    if not isinstance(data, dict):
        raise InvalidRequest("the event's argument must be an object", code="invalid_payload")
    return data


def text_field(data: dict[str, Any], name: str, *, required: bool = True, limit: int = 200) -> Any:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidRequest(f"'{name}' must be a non-empty string", code="invalid_payload")
    return value


def number_field(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**31:
        raise InvalidRequest(f"'{name}' must be a positive integer", code="invalid_payload")
    return value
