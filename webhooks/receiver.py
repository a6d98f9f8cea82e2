"""`POST /api/webhooks/github`: verify, deduplicate, store, answer — well inside GitHub's 10 s.

The order is the point. The body is read whole (bounded) and its signature checked before
anything is parsed; then one Lua script deduplicates on (hook id, delivery id), appends
the envelope to the event stream and marks what the event changed stale, so a delivery
is never marked seen without being stored and applied — one round trip to Redis, which
on Upstash is one billed request. Entries under a repository's former names are marked
after that, bounded in time; if that fails, the stored event still carries its scopes,
and the persistent layer's consumer applies them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import NoReturn

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from proxy import CACHE_CONTROL, Gateway
from shared.config import Settings
from shared.errors import BodyInvalid, BodyTooLarge, HubbubError, NotAuthenticated, StoreError
from shared.events import EventBus
from shared.store.keys import Keys
from webhooks.delivery import Delivery, header_token, parse
from webhooks.invalidation import scopes_for
from webhooks.processing import Processor
from webhooks.signature import PREFIX as SIGNATURE_PREFIX
from webhooks.signature import matching_secret
from webhooks.summary import envelope_for

log = logging.getLogger("hubbub.webhooks")

PATH = "/api/webhooks/github"
# Invalidating former names must not eat into GitHub's 10 s; past this the backstop does.
_INLINE_BUDGET_S = 2.0
_RESYNC_EVERY_MS = 60_000


class WebhookEndpoints:
    def __init__(self, settings: Settings, gateway: Callable[[], Gateway]) -> None:
        self.settings = settings
        self.gateway = gateway
        self.secrets = settings.webhook_secrets
        self.keys = Keys(settings.key_prefix)
        self.dedupe_ttl_ms = settings.webhook_dedupe_ttl_s * 1000
        if not self.secrets:
            log.warning(
                "GITHUB_WEBHOOK_SECRET is not set: %s refuses every delivery, because an"
                " unsigned delivery cannot be told from a forged one",
                PATH,
            )

    def routes(self) -> list[BaseRoute]:
        return [Route(PATH, self.receive, methods=["POST"])]

    def bus(self, gateway: Gateway) -> EventBus:
        return EventBus(
            gateway.store,
            self.keys,
            stream_maxlen=self.settings.event_stream_maxlen,
            repository_maxlen=self.settings.repository_stream_maxlen,
        )

    async def receive(self, request: Request) -> Response:
        if not self.secrets:
            raise HubbubError(
                "this Hubbub has no GITHUB_WEBHOOK_SECRET, so it accepts no deliveries",
                code="webhooks_not_configured",
                status=503,
            )
        signature = request.headers.get("x-hub-signature-256", "").encode("latin-1")
        # Unsigned requests are refused before their body is read.
        if not signature.startswith(SIGNATURE_PREFIX):
            _refuse_signature(request)
        body = await self._read(request)
        if matching_secret(body, signature, self.secrets) is None:
            _refuse_signature(request)
        delivery = parse(dict(request.headers), body)
        if delivery.event == "ping":
            _log(delivery, "pong")
            return _json({"ok": True, "hook_id": delivery.hook_id}, 200)
        return await self._accept(delivery)

    async def _accept(self, delivery: Delivery) -> Response:
        gateway = self.gateway()
        bus = self.bus(gateway)
        envelope = envelope_for(delivery)
        scopes = scopes_for(delivery.event, delivery.payload)
        appended = await bus.append(
            envelope,
            scopes=scopes,
            dedupe_key=self.keys.webhook_delivery(delivery.hook_id, delivery.delivery_id),
            dedupe_ttl_ms=self.dedupe_ttl_ms,
            bump=gateway.invalidator.bump(),
        )
        if appended is None:
            _log(delivery, "duplicate")
            return _json({"duplicate": True}, 200)
        # The script announced the change to every process; this one need not wait for it.
        gateway.invalidator.notify_local(scopes)
        outcome = "accepted" if scopes else "accepted, nothing to invalidate"
        try:
            if len(appended.names) > 1:
                async with asyncio.timeout(_INLINE_BUDGET_S):
                    processor = Processor(gateway.invalidator, bus)
                    await processor.apply_former_names(envelope, scopes, appended.names)
        except (StoreError, TimeoutError):
            outcome = "accepted, invalidation left to the consumer"
        _log(delivery, outcome)
        return _json({"accepted": True, "id": appended.id}, 202)

    async def _read(self, request: Request) -> bytes:
        """The whole body, or a 413 (a lost event: the repository resyncs on its next read)."""
        limit = self.settings.webhook_max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._lost(request)
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    await self._lost(request)
                chunks.append(chunk)
        except ClientDisconnect:
            raise BodyInvalid("the delivery ended before its body did", code="truncated") from None
        return b"".join(chunks)

    async def _lost(self, request: Request) -> None:
        fields = _headers_only(request)
        resynced = await self._resync_target(request)
        log.error(
            "delivery lost: its body is over %d bytes%s",
            self.settings.webhook_max_body_bytes,
            "; its repository will revalidate everything" if resynced else "",
            extra={**fields, "outcome": "lost"},
        )
        raise BodyTooLarge(
            f"deliveries over {self.settings.webhook_max_body_bytes} bytes are not accepted"
            " here; point large installations' webhooks at the persistent server"
        )

    async def _resync_target(self, request: Request) -> bool:
        """Revalidate everything of the repository the hook belongs to, when the headers say.

        The body cannot be verified, so nothing is stored, and a repository is resynced at
        most once a minute this way (one `SET NX`): forged headers can only make its entries
        revalidate, at no rate-limit cost, and cannot keep its cache from working.
        """
        if request.headers.get("x-github-hook-installation-target-type") != "repository":
            return False
        target = request.headers.get("x-github-hook-installation-target-id", "")
        if not target.isdigit():
            return False
        gateway = self.gateway()
        try:
            if not await gateway.store.set(
                self.keys.lost_delivery(int(target)), "1", px=_RESYNC_EVERY_MS, nx=True
            ):
                return True
            names = await self.bus(gateway).repository_names(int(target))
            await gateway.invalidator.invalidate(f"repos/{name}/*" for name in sorted(names))
        except StoreError:
            return False
        return bool(names)


def _refuse_signature(request: Request) -> NoReturn:
    fields = {**_headers_only(request), "outcome": "bad signature"}
    log.warning("delivery refused: missing or wrong signature", extra=fields)
    raise NotAuthenticated(
        "X-Hub-Signature-256 is missing or does not match", code="invalid_signature"
    )


def _headers_only(request: Request) -> dict[str, str | None]:
    """The allow-listed identifying headers, each checked for shape before it is logged."""
    fields: dict[str, str | None] = {}
    for name, header in (
        ("event", "x-github-event"),
        ("delivery", "x-github-delivery"),
        ("hook_id", "x-github-hook-id"),
    ):
        try:
            fields[name] = header_token(request.headers.get(header), header, required=False)
        except BodyInvalid:
            fields[name] = "(malformed)"
    return fields


def _log(delivery: Delivery, outcome: str) -> None:
    fields = {**delivery.log_fields(), "outcome": outcome}
    log.info(
        "delivery %s %s.%s for %s: %s",
        delivery.delivery_id,
        delivery.event,
        delivery.action or "-",
        fields["repository"] or "-",
        outcome,
        extra=fields,
    )


def _json(body: dict[str, object], status: int) -> Response:
    return JSONResponse(body, status_code=status, headers={"cache-control": CACHE_CONTROL})
