"""Prometheus metrics of the reconciler, in a registry of their own (no global state)."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._work(self.registry)
        self._state(self.registry)
        self._compliance(self.registry)
        self._config(self.registry)

    def _work(self, r: CollectorRegistry) -> None:
        """What the reconciler did: deletions, requests, durations, runs."""
        self.records_deleted = Counter(
            "retention_records_deleted",
            "Records deleted.",
            ["policy", "index", "namespace"],
            registry=r,
        )
        self.requests = Counter(
            "retention_pinecone_requests",
            "Requests to Pinecone by operation and outcome.",
            ["operation", "outcome"],
            registry=r,
        )
        self.rate_limited = Counter(
            "retention_pinecone_rate_limited",
            "429 answers from Pinecone.",
            ["operation"],
            registry=r,
        )
        self.plan_seconds = Histogram(
            "retention_plan_duration_seconds",
            "Time to plan a policy.",
            ["policy"],
            registry=r,
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.apply_seconds = Histogram(
            "retention_apply_duration_seconds",
            "Time to apply and verify a policy's plan.",
            ["policy"],
            registry=r,
            buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
        )
        self.runs = Counter(
            "retention_reconcile_runs",
            "Reconcile runs by outcome.",
            ["policy", "outcome"],
            registry=r,
        )
        self.trend_blocked = Counter(
            "retention_trend_blocked",
            "Firings the trend breaker blocked: they would have deleted more than trendFactor "
            "times the median of the policy's last applies.",
            ["policy"],
            registry=r,
        )

    def _state(self, r: CollectorRegistry) -> None:
        """Where each policy stands after its last run."""
        self.last_success = Gauge(
            "retention_last_success_timestamp_seconds",
            "When each policy last reconciled successfully (Unix time).",
            ["policy"],
            registry=r,
        )
        self.pending = Gauge(
            "retention_records_pending",
            "Records the last run found to delete and did not (observe mode, blocked, or not yet "
            "visible as deleted).",
            ["policy"],
            registry=r,
        )
        self.hold_unmatched = Gauge(
            "retention_hold_unmatched",
            "1 for a legal hold that protects nothing (its index is missing or none of its "
            "namespace patterns match), 0 once it matches again.",
            ["hold"],
            registry=r,
        )
        self.invalid_timestamps = Gauge(
            "retention_invalid_timestamp_records",
            "Records a TTL rule would select whose time field holds no epoch number, so that "
            "they never expire under the rule (as last measured).",
            ["policy", "rule", "index", "namespace"],
            registry=r,
        )

    def _compliance(self, r: CollectorRegistry) -> None:
        """Whether retention keeps up: records past their TTL, and when it last caught up."""
        self.overdue = Gauge(
            "retention_overdue_records",
            "Records past their TTL that the last run left in place, per TTL rule and namespace "
            "(a series is present while its count is above zero).",
            ["policy", "rule", "index", "namespace"],
            registry=r,
        )
        self.policy_overdue = Gauge(
            "retention_policy_overdue_records",
            "Records past their TTL that the policy's last run left in place: the sum of its "
            "retention_overdue_records series (a record two TTL rules select counts under each).",
            ["policy"],
            registry=r,
        )
        self.last_verified = Gauge(
            "retention_last_verified_reconcile_timestamp_seconds",
            "When each policy last reconciled with every deletion verified and nothing left "
            "overdue (Unix time).",
            ["policy"],
            registry=r,
        )
        self.schedule_seconds = Gauge(
            "retention_policy_schedule_seconds",
            "Seconds between two firings of the policy (its interval, or the gap between its "
            "next two cron firings).",
            ["policy"],
            registry=r,
        )

    def _config(self, r: CollectorRegistry) -> None:
        """The policy set and its reloads."""
        self.reloads = Counter(
            "retention_config_reloads", "Policy reloads that were accepted.", registry=r
        )
        self.reload_failures = Counter(
            "retention_config_reload_failures", "Policy reloads rejected as invalid.", registry=r
        )
        self.policies = Gauge(
            "retention_policies_loaded", "Policies in the running set.", registry=r
        )
        self.policies_scheduled = Gauge(
            "retention_policies_scheduled",
            "Policies this replica schedules: all loaded ones, or those of its shard's indexes.",
            registry=r,
        )
        self.shard = Gauge(
            "retention_shard_info",
            "1, labelled with the shard this replica serves (0-based) and the shard count.",
            ["shard", "shards"],
            registry=r,
        )
        self.shards = Gauge(
            "retention_shards",
            "The shard count this replica was started with (1: not sharded).",
            registry=r,
        )

    def transport(self, inner: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncBaseTransport:
        """An httpx transport that counts every request to Pinecone by operation and outcome."""
        return _CountingTransport(inner or httpx.AsyncHTTPTransport(), self)


_OPERATIONS = {
    "/vectors/delete": "delete",
    "/vectors/update": "update",
    "/vectors/fetch": "fetch",
    "/vectors/fetch_by_metadata": "fetch_by_metadata",
    "/vectors/list": "list",
    "/describe_index_stats": "describe_index_stats",
    "/documents/delete": "documents_delete",
    "/documents/fetch": "documents_fetch",
    "/documents/list": "documents_list",
}


def operation_of(request: httpx.Request) -> str:
    path = request.url.path
    for suffix, name in _OPERATIONS.items():
        if path.endswith(suffix):
            return name
    if "/namespaces" in path:
        return "namespaces"
    if "/indexes" in path or "/backups" in path:
        return "control"
    return "other"


class _CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        operation = operation_of(request)
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError:
            self.metrics.requests.labels(operation, "transport_error").inc()
            raise
        status = response.status_code
        outcome = (
            "ok" if status < 400 else "rate_limited" if status == 429 else f"{status // 100}xx"
        )
        self.metrics.requests.labels(operation, outcome).inc()
        if status == 429:
            self.metrics.rate_limited.labels(operation).inc()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
