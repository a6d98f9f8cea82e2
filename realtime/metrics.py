"""The persistent server's counters, on the gateway's registry so `/metrics` shows both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class SendCounts(Collector):
    """Room-broadcast sends by path, read from the client manager's own counters (it
    counts per broadcast, not per send, to stay off the hot loop)."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "hubbub_realtime_broadcast_sends",
            "Room-broadcast packets sent, by path: written directly, or through the queue",
            labels=["path"],
        )
        family.add_metric(["direct"], self.manager.direct_sends)
        family.add_metric(["queued"], self.manager.queued_sends)
        yield family
        yield CounterMetricFamily(
            "hubbub_realtime_unicast_direct_sends",
            "Packets for one socket (acks, replies) written directly instead of queued",
            value=self.manager.direct_unicasts,
        )


class RealtimeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sockets = Gauge(
            "hubbub_realtime_sockets", "Connected Socket.IO clients", registry=registry
        )
        self.rooms = Gauge(
            "hubbub_realtime_rooms", "Project and issue rooms with a member here", registry=registry
        )
        self.connects = Counter(
            "hubbub_realtime_connects_total",
            "Connection attempts, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.joins = Counter(
            "hubbub_realtime_joins_total",
            "Project joins, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.deliveries = Counter(
            "hubbub_realtime_deliveries_total",
            "Stream events handed to this machine's project rooms",
            registry=registry,
        )
        self.listener_lag = Gauge(
            "hubbub_realtime_listener_lag_seconds",
            "Age of the last stream event when this machine delivered it",
            registry=registry,
        )
        self.redis_reconnects = Counter(
            "hubbub_realtime_redis_reconnects_total",
            "Times the stream reader lost Redis and resumed",
            registry=registry,
        )
        self.rate_limited = Counter(
            "hubbub_realtime_rate_limited_total",
            "Socket events and connects refused or dropped by a rate limit, by kind",
            ["kind"],
            registry=registry,
        )
        self.catch_up = Histogram(
            "hubbub_realtime_catch_up_events",
            "Events replayed to a joining client",
            buckets=(0, 1, 5, 20, 100, 500),
            registry=registry,
        )
        self.resyncs = Counter(
            "hubbub_realtime_resyncs_total",
            "Joins told to reload because their gap was trimmed or too long",
            registry=registry,
        )
        self.dropped = Counter(
            "hubbub_realtime_slow_sockets_dropped_total",
            "Sockets disconnected because their outgoing queue passed its bound",
            registry=registry,
        )
        self.drafts = Gauge(
            "hubbub_realtime_drafts", "Issue drafts loaded on this machine", registry=registry
        )
        self.draft_updates = Counter(
            "hubbub_realtime_draft_updates_total",
            "Draft updates made here and logged, by source (yjs, op)",
            ["source"],
            registry=registry,
        )
        self.draft_merges = Counter(
            "hubbub_realtime_draft_merges_total",
            "GitHub's issue compared with a draft's base: merged, or already current "
            "(the echo of a save, or merged by another machine)",
            ["outcome"],
            registry=registry,
        )
        self.draft_saves = Counter(
            "hubbub_realtime_draft_saves_total",
            "Saves to GitHub, by outcome",
            ["outcome"],
            registry=registry,
        )
