"""Hits written straight to uvicorn's socket: one `transport.write`, no ASGI messages.

A fresh hit is bytes already in memory, yet handing it to uvicorn as two ASGI messages
costs more than finding it: uvicorn's httptools `send` checks each of a hit's ~20 header
lines with two regular expressions and lower-cases it, on every response, which in most
runs of bench/proxy.py held any answer with those lines to about three quarters of a bare
route's pace. Most
of the lines an entry sends never change, so they are checked once here, with uvicorn's
own expressions, and kept joined with the entry (`HotEntry.lines`); a hit adds its few
lines that do change (length, age, limits, request id: digits, or an id already
checked), writes the response in one call and closes uvicorn's response cycle as its
`send` would.

That rests on uvicorn's private response cycle, as the realtime layer's direct write
rests on engine.io's. So it is used only on the versions in `SUPPORTED` (checked once,
at the first hit uvicorn's httptools protocol serves; the serverless runtime never gets
that far) and under `HUBBUB_DIRECT_WRITE` (one switch for both, so that one setting gets
an operator back to the libraries' own paths); and per request only where uvicorn's
`send` would write these same bytes at once: the httptools protocol, nothing between the
hot path and uvicorn that wraps `send` except Starlette's error middleware (which only
notes that a response started), the response not started, no `100 Continue` owed, no
access log line to write, the connection open and not paused. Anything else goes
through ASGI as before.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from types import CodeType
from typing import TYPE_CHECKING, Any

from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import Scope, Send

if TYPE_CHECKING:
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

log = logging.getLogger("hubbub.http")

SUPPORTED = {"uvicorn": "0.54.0", "starlette": "1.10.0"}
_HTTPTOOLS = "uvicorn.protocols.http.httptools_impl"
# Lines uvicorn's `send` reads as well as writes: a response carrying one of them in its
# fixed part goes through `send`.
_READ_BY_UVICORN = (b"content-length:", b"transfer-encoding:", b"connection:")

_JOINED_KEPT = 1024  # joined lines of entries L1 does not keep, remembered by content

Lines = list[tuple[bytes, bytes]]
Kept = dict[tuple[str, bool], bytes | None]


def _inner_send_of_error_middleware() -> tuple[CodeType, int] | None:
    """The code of ServerErrorMiddleware's `_send` wrapper and where its closure keeps
    the `send` it wraps: found once, so a request costs one identity check."""
    for const in ServerErrorMiddleware.__call__.__code__.co_consts:
        named = isinstance(const, CodeType) and const.co_name == "_send"
        if named and "send" in const.co_freevars:
            return const, const.co_freevars.index("send")
    return None


class DirectAnswers:
    """Writes a hit to uvicorn's transport when uvicorn's `send` would write the same."""

    def __init__(self, wanted: bool) -> None:
        self.wanted = wanted
        # None until the first request served by uvicorn's httptools protocol; then
        # uvicorn's module (its cycle class, status lines and header checks), or False.
        self._uvicorn: Any = None if wanted else False
        self._wrapper = _inner_send_of_error_middleware()
        self._defaults: tuple[object, bytes | None] = (None, None)
        self._joined: dict[tuple[tuple[bytes, bytes], ...], bytes | None] = {}

    def cycle(self, scope: Scope, send: Send) -> RequestResponseCycle | None:
        """uvicorn's response cycle for this request, if uvicorn's `send` would write a
        whole response at once now; else None."""
        cycle = self._cycle(send)
        if cycle is None or cycle.scope is not scope:
            return None
        if (
            cycle.response_started
            or cycle.disconnected
            or (cycle.access_log and cycle.access_logger.isEnabledFor(logging.INFO))
            or cycle.waiting_for_100_continue
            or cycle.flow.write_paused
            or cycle.transport.is_closing()
        ):
            return None
        return cycle

    def start(self, cycle: RequestResponseCycle, status: int) -> bytes | None:
        """The status line and uvicorn's own headers (server, date) that begin every
        response; None where `send` must write them."""
        status_line = self._uvicorn.STATUS_LINE.get(status)
        defaults = self._default_lines(cycle.default_headers)
        if status_line is None or defaults is None:
            return None
        return status_line + defaults

    def write(self, cycle: RequestResponseCycle, head: Iterable[bytes], body: bytes) -> None:
        """Write the response and complete `cycle` as `send` does after a whole response
        with a content-length (or none needed: HEAD, 304). `head` is `start`, then header
        lines each ending in CRLF: joined by `lines`, or built by the caller from digits
        and checked values."""
        end = b"\r\n" if cycle.keep_alive else b"connection: close\r\n\r\n"
        cycle.transport.write(b"".join((*head, end, body)))
        cycle.response_started = True
        cycle.waiting_for_100_continue = False
        cycle.chunked_encoding = False
        cycle.expected_content_length = 0
        cycle.response_complete = True
        cycle.message_event.set()
        if not cycle.keep_alive:
            cycle.transport.close()
        cycle.on_response()

    def fixed_lines(
        self, headers: Lines, kept: Kept | None, kept_as: tuple[str, bool]
    ) -> bytes | None:
        """The lines every hit of an entry sends, joined by `lines` once: kept with the L1
        entry (`kept`, under `kept_as`: public base, is a 304) or, for an entry L1 does
        not keep (L1 off), remembered by the lines themselves."""
        if kept is None:
            return self._remembered(headers)
        joined = kept.get(kept_as, b"")  # b"": not joined yet
        if joined == b"":
            joined = kept[kept_as] = self.lines(headers)
        return joined

    def _remembered(self, headers: Lines) -> bytes | None:
        key = tuple(headers)
        joined = self._joined.get(key, b"")
        if joined == b"":
            if len(self._joined) >= _JOINED_KEPT:
                self._joined.clear()
            joined = self._joined[key] = self.lines(headers)
        return joined

    def lines(self, headers: Lines) -> bytes | None:
        """`headers` as uvicorn writes them, joined; None if uvicorn would refuse one or
        must read one (its length, framing or connection). Uses uvicorn's expressions,
        so only after `cycle` has answered a cycle."""
        uvicorn = self._uvicorn
        joined = []
        for name, value in headers:
            if uvicorn.HEADER_RE.search(name) or uvicorn.HEADER_VALUE_RE.search(value):
                return None
            line = b"%s: %s\r\n" % (name.lower(), value)
            if line.startswith(_READ_BY_UVICORN):
                return None
            joined.append(line)
        return b"".join(joined)

    def _cycle(self, send: Send) -> RequestResponseCycle | None:
        """uvicorn's response cycle whose `send` this is, directly or behind Starlette's
        error middleware; None for anything else."""
        wrapper = self._wrapper
        if wrapper is not None and getattr(send, "__code__", None) is wrapper[0]:
            send = send.__closure__[wrapper[1]].cell_contents  # type: ignore[attr-defined]
        cycle = getattr(send, "__self__", None)
        if cycle is None:
            return None
        uvicorn = self._uvicorn
        if uvicorn is None:
            uvicorn = self._uvicorn = self._adopt(cycle)
        if not uvicorn or type(cycle) is not uvicorn.RequestResponseCycle:
            return None
        if send.__func__ is not uvicorn.RequestResponseCycle.send:  # type: ignore[attr-defined]
            return None
        return cycle

    def _adopt(self, cycle: object) -> Any:
        """uvicorn's httptools module if `cycle` is its and the versions are the ones
        this was written against; else False, said once."""
        if type(cycle).__module__ != _HTTPTOOLS:
            return None  # not uvicorn's httptools cycle; perhaps the next caller's is
        # Here, not at the top: the serverless cold start never needs importlib.metadata.
        from shared.versions import mismatch

        reason = mismatch(SUPPORTED, "the direct answer")
        if reason is not None:
            log.info("hits go through ASGI's send: %s", reason)
            return False
        if self._wrapper is None:
            log.info("hits go through ASGI's send: Starlette's error middleware has changed")
            return False
        return sys.modules[_HTTPTOOLS]

    def _default_lines(self, defaults: Lines) -> bytes | None:
        """uvicorn's own headers (server, date), joined: uvicorn replaces the list each
        second, so it is joined once a second."""
        seen, joined = self._defaults
        if defaults is not seen:
            joined = self.lines(defaults)
            self._defaults = (defaults, joined)
        return joined
