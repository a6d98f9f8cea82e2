"""Prometheus counters for the gateway, in a registry of its own (one per gateway)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from proxy.messages import GatewayRequest, GatewayResponse, Handler


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.responses = Counter(
            "hubbub_gateway_responses",
            "Gateway answers by how they were served and status class.",
            ["outcome", "status"],
            registry=self.registry,
        )


class Measure:
    """Counts every answer by outcome; errors raised as exceptions are counted by the app."""

    def __init__(self, inner: Handler, metrics: GatewayMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        response = await self.inner(request)
        self.metrics.responses.labels(response.outcome.value, f"{response.status // 100}xx").inc()
        return response
