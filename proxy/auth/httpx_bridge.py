"""The OAuth code exchange over the gateway's own transport, whichever HTTP library
Authlib speaks.

Authlib builds its client on `httpx2` whenever that is installed (the MCP SDK brings it)
and on `httpx` otherwise; the gateway's transport is an `httpx` one. In production the
gateway has no transport of its own and Authlib uses its default; a process given one
(tests, an embedding app) needs each request carried across, which is all this does.
"""

from __future__ import annotations

from typing import Any

import httpx

# Decoded by the inner client already: the outer one must not decode them again.
_DROPPED = {b"content-encoding", b"content-length", b"transfer-encoding"}


def authlib_transport(inner: httpx.AsyncBaseTransport) -> Any:
    """`inner`, as the transport Authlib's client takes."""
    from authlib.integrations.httpx_client._compat import httpx2

    if httpx2 is httpx:
        return inner
    bridge_base: Any = httpx2.AsyncBaseTransport

    class Bridge(bridge_base):  # type: ignore[misc, valid-type]
        async def handle_async_request(self, request: Any) -> Any:
            body = await request.aread()
            answer = await inner.handle_async_request(
                httpx.Request(
                    request.method, str(request.url), headers=request.headers.raw, content=body
                )
            )
            content = await answer.aread()
            await answer.aclose()
            headers = [(k, v) for k, v in answer.headers.raw if k.lower() not in _DROPPED]
            return httpx2.Response(answer.status_code, headers=headers, content=content)

    return Bridge()
