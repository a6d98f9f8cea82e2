"""The serverless layer's HTTP face of the gateway: `/api/github/*`, batch and GraphQL.

Thin on purpose: it turns a Starlette request into a GatewayRequest (raw path, identity,
bounded body) and a GatewayResponse back into bytes. Everything else is the gateway's.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from proxy.auth import AuthEndpoints
from proxy.cors import cors_middleware
from proxy.gateway import Gateway
from proxy.headers import CACHE_CONTROL
from proxy.hot_path import PREFETCHED, hot_path_middleware
from proxy.http_request import PREFIX, client_ip, public_base, read_body, request_id
from proxy.messages import GatewayRequest, GatewayResponse
from proxy.target import parse_target, split_reference
from shared.config import Settings
from shared.errors import BodyInvalid, Forbidden, HubbubError, MethodNotAllowed
from shared.identity import SESSION_COOKIE

log = logging.getLogger("hubbub.http")

_POST_ONLY = frozenset({"/batch", "/graphql"})
_CALLER_HEADERS = ("accept", "x-github-api-version", "if-none-match", "content-type")
_BATCH_HEADERS = frozenset({"accept", "x-github-api-version", "if-none-match"})
_BATCH_ANSWER_HEADERS = frozenset(
    {"etag", "link", "x-cache", "age", "content-type", "x-ratelimit-remaining", "retry-after"}
)


class _RawPathConvertor(Convertor[str]):
    """Like `path`, but also matches control characters, so the guard can answer them
    with a 400 instead of the router with a 404."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("rawpath", _RawPathConvertor())


class ProxyEndpoints:
    """The routes of the proxy, bound to a way of getting the process's gateway."""

    def __init__(self, settings: Settings, gateway: Callable[[], Gateway]) -> None:
        self.settings = settings
        self.gateway = gateway

    def routes(self) -> list[BaseRoute]:
        methods = ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"]
        return [
            Route(f"{PREFIX}/batch", self.batch, methods=["POST"]),
            Route(f"{PREFIX}/graphql", self.graphql, methods=["POST"]),
            Route(PREFIX, self.proxy, methods=methods),
            Route(PREFIX + "/{path:rawpath}", self.proxy, methods=methods),
        ]

    async def proxy(self, request: Request) -> Response:
        scope = request.scope
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        # Work from the raw bytes: uvicorn has already decoded `path`, and `%2F` must
        # reach GitHub as sent. latin-1 maps each byte to one char, so the guard sees
        # every non-ASCII byte and rejects it.
        upstream_path = raw_path.decode("latin-1").removeprefix(PREFIX) or "/"
        if upstream_path in _POST_ONLY:
            raise MethodNotAllowed(f"{upstream_path} takes POST")
        method = "GET" if request.method == "HEAD" else request.method
        body = await read_body(request, self.settings.max_request_body_bytes)
        answer = await self.gateway()(
            await self._gateway_request(request, method, upstream_path, body=body)
        )
        return _to_response(answer, include_body=request.method != "HEAD")

    async def graphql(self, request: Request) -> Response:
        body = await read_body(request, self.settings.max_request_body_bytes)
        document = _parse_json(body)
        if not isinstance(document, dict) or not isinstance(document.get("query"), str):
            raise BodyInvalid('GraphQL body must be a JSON object with a "query" string')
        answer = await self.gateway()(
            await self._gateway_request(request, "POST", "/graphql", body=body, query="")
        )
        return _to_response(answer, include_body=True)

    async def batch(self, request: Request) -> Response:
        document = _parse_json(await read_body(request, self.settings.max_request_body_bytes))
        items = document.get("requests") if isinstance(document, dict) else None
        if not isinstance(items, list) or not items:
            raise BodyInvalid('batch body must be {"requests": [{"path": ...}, ...]}')
        if len(items) > self.settings.batch_max:
            raise BodyInvalid(f"a batch holds at most {self.settings.batch_max} requests")
        answers = await asyncio.gather(*(self._batch_item(request, item) for item in items))
        return JSONResponse({"responses": answers}, headers={"cache-control": CACHE_CONTROL})

    async def _batch_item(self, request: Request, item: Any) -> dict[str, Any]:
        try:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                raise BodyInvalid('each batch request needs a "path" string')
            headers = item.get("headers") or {}
            if not isinstance(headers, dict) or not all(
                isinstance(v, str) for v in headers.values()
            ):
                raise BodyInvalid('batch "headers" must be an object of strings')
            target = split_reference(item["path"])
            forwarded = {k.lower(): v for k, v in headers.items() if k.lower() in _BATCH_HEADERS}
            answer = await self.gateway()(
                await self._gateway_request(
                    request, "GET", target.path, query=target.query, headers=forwarded
                )
            )
        except HubbubError as error:
            return {"status": error.status, "headers": error.headers, "body": error.as_json()}
        shown = {k: v for k, v in answer.headers if k in _BATCH_ANSWER_HEADERS}
        return {"status": answer.status, "headers": shown, "body": _decode_body(answer)}

    async def _gateway_request(
        self,
        request: Request,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        query: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> GatewayRequest:
        settings = self.settings
        # The guard's path check first (design §4: guard, then identity): a rejected
        # path never costs a token check upstream.
        parse_target(
            path, request.scope["query_string"].decode("latin-1") if query is None else query
        )
        identity = await self.gateway().callers.resolve(
            authorization=request.headers.get("authorization"),
            cookie=request.cookies.get(SESSION_COOKIE) if "cookie" in request.headers else None,
            client_ip=client_ip(request, settings),
        )
        # A browser sends the cookie with any site's request; only our pages set headers.
        if identity.via_cookie and method not in ("GET", "HEAD"):
            raise Forbidden(
                "a session cookie alone cannot change anything: send the session token"
                " as 'Authorization: Bearer <token>'",
                code="csrf_refused",
            )
        if headers is None:
            headers = {k: request.headers[k] for k in _CALLER_HEADERS if k in request.headers}
        # The shared-cache read the hot path made for this request, if it made one for
        # this caller.
        partition, prefetched, generation = request.scope.get("state", {}).get(
            PREFETCHED, (None, None, 0)
        )
        if partition != identity.partition:
            prefetched, generation = None, 0
        return GatewayRequest(
            method=method,
            path=path,
            query=request.scope["query_string"].decode("latin-1") if query is None else query,
            identity=identity,
            headers=headers,
            body=body,
            request_id=request_id(request),
            public_base=public_base(request, settings),
            prefetched=prefetched,
            prefetched_generation=generation,
        )


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise BodyInvalid("body is not valid JSON") from None


def _decode_body(answer: GatewayResponse) -> Any:
    if not answer.body:
        return None
    text = answer.body.decode("utf-8", errors="replace")
    content_type = answer.header("content-type") or ""
    if "json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _to_response(answer: GatewayResponse, *, include_body: bool) -> Response:
    response = Response(answer.body if include_body else b"", status_code=answer.status)
    if not include_body:
        response.headers["content-length"] = str(len(answer.body))
    response.raw_headers.extend(
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers
    )
    return response


def error_response(error: HubbubError) -> JSONResponse:
    headers = {"cache-control": CACHE_CONTROL, **error.headers}
    return JSONResponse(error.as_json(), status_code=error.status, headers=headers)


async def _hubbub_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HubbubError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    error = HubbubError(
        exc.detail if isinstance(exc.detail, str) else "error",
        code=codes.get(exc.status_code, "http_error"),
        status=exc.status_code,
    )
    response = error_response(error)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware logs the exception once; clients see no trace.
    error = HubbubError("internal error; quote the request id", code="internal_error")
    response = error_response(error)
    response.headers["x-request-id"] = request_id(request)
    return response


EXCEPTION_HANDLERS: dict[Any, Callable[..., Any]] = {
    HubbubError: _hubbub_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}


class GatewayHolder:
    """Builds the process's gateway on first use: serverless platforms may run no lifespan."""

    def __init__(self, settings: Settings, gateway: Gateway | None = None) -> None:
        self.settings = settings
        self._gateway = gateway

    def __call__(self) -> Gateway:
        if self._gateway is None:
            from shared.store import connect

            self._gateway = Gateway(self.settings, connect(self.settings))
        return self._gateway

    async def aclose(self) -> None:
        if self._gateway is not None:
            await self._gateway.aclose()
            await self._gateway.store.aclose()
            self._gateway = None


class Endpoints(Protocol):
    """A group of routes served beside the proxy's, sharing the process's gateway."""

    def __init__(self, settings: Settings, gateway: Callable[[], Gateway]) -> None: ...

    def routes(self) -> list[BaseRoute]: ...


def create_app(
    settings: Settings,
    *,
    gateway: Gateway | None = None,
    endpoints: Sequence[type[Endpoints]] = (),
) -> Starlette:
    """The serverless ASGI app: the proxy's routes, and those of the layers above it
    (webhooks) that the composer passes in — proxy never imports them."""
    holder = GatewayHolder(settings, gateway)
    owns_gateway = gateway is None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await holder().start()
        # Start-up allocations live for the process; keep the cyclic GC from walking them.
        gc.collect()
        gc.freeze()
        yield
        if owns_gateway:
            await holder.aclose()

    return Starlette(
        middleware=[*cors_middleware(settings), *hot_path_middleware(settings, holder)],
        routes=[
            *ProxyEndpoints(settings, holder).routes(),
            *AuthEndpoints(settings, holder).routes(),
            *(route for group in endpoints for route in group(settings, holder).routes()),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )


__all__ = ["PREFIX", "Endpoints", "GatewayHolder", "ProxyEndpoints", "create_app", "error_response"]
