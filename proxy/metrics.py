"""Prometheus counters for the gateway, in a registry of its own (one per gateway)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from proxy.messages import GatewayRequest, GatewayResponse, Handler
from shared.errors import HubbubError


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.responses = Counter(
            "hubbub_gateway_responses",
            "Gateway answers by how they were served and status class.",
            ["outcome", "status"],
            registry=self.registry,
        )
        self.direct_answers = Counter(
            "hubbub_gateway_direct_answers",
            "Hits written straight to uvicorn's transport rather than through ASGI's send"
            " (HUBBUB_DIRECT_WRITE).",
            registry=self.registry,
        )


class Measure:
    """Counts every answer by outcome, and every refusal (429, 502, ...) as ERROR."""

    def __init__(self, inner: Handler, metrics: GatewayMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        try:
            response = await self.inner(request)
        except HubbubError as error:
            self.metrics.responses.labels("ERROR", f"{error.status // 100}xx").inc()
            raise
        self.metrics.responses.labels(response.outcome.value, f"{response.status // 100}xx").inc()
        return response
