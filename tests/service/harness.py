"""What the reconciler tests share: an injected wall clock, a tapped wire, and a world of one
emulator index with a reconciler to fire on it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import structlog
from structlog.testing import capture_logs

from retention.emulator import Emulator
from retention.pinecone import Pacer, PineconeSettings, connect
from retention.pinecone.transport import Lanes
from retention.policy import PolicySet, load_policies
from retention.service.metrics import Metrics
from retention.service.reconciler import Reconciler
from tests.builders import Document, write_policies
from tests.logged import Event

NOW = datetime(2040, 1, 1, 12, 0, tzinfo=UTC)


def epoch(moment: datetime) -> float:
    return moment.timestamp()


class Clock:
    """UTC time that moves only when a test moves it."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


class Wire(httpx.AsyncBaseTransport):
    """The client's production HTTP stack with a tap on it: every request can be seen
    (`on_request`), every delete request is noted by namespace, with how many were in flight at
    once, and may be held or failed (`before_delete`) before it is sent. It outlives the
    clients it is given (one per firing)."""

    def __init__(self) -> None:
        self.inner = Lanes()
        self.deletes: list[str] = []
        """The namespace of each delete request, in order of arrival."""
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        """Per namespace, the most delete requests in flight at once."""
        self.peak_overall = 0
        """The most delete requests in flight at once, whatever their namespaces."""
        self.on_request: Callable[[httpx.Request], None] | None = None
        self.before_delete: Callable[[str], Awaitable[None]] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.on_request is not None:
            self.on_request(request)
        if not request.url.path.endswith("/vectors/delete"):
            return await self.inner.handle_async_request(request)
        namespace = json.loads(request.content)["namespace"]
        self.deletes.append(namespace)
        self.in_flight[namespace] += 1
        self.peak[namespace] = max(self.peak[namespace], self.in_flight[namespace])
        self.peak_overall = max(self.peak_overall, sum(self.in_flight.values()))
        try:
            if self.before_delete is not None:
                await self.before_delete(namespace)
            return await self.inner.handle_async_request(request)
        finally:
            self.in_flight[namespace] -= 1

    async def aclose(self) -> None:
        """Close the connections; the next client given this wire gets new ones."""
        inner, self.inner = self.inner, Lanes()
        await inner.aclose()


@dataclass
class World:
    """One emulator index, a policy directory, a state directory, and the reconciler's clock,
    metrics and wire."""

    emulator: Emulator
    root: Path
    index: str
    clock: Clock = field(default_factory=Clock)
    metrics: Metrics = field(default_factory=Metrics)
    wire: Wire = field(default_factory=Wire)
    at_most: ClassVar[float] = 30.0
    """Seconds after which a firing that never ends fails its test instead of hanging it."""

    @property
    def state(self) -> Path:
        return self.root / "state"

    def load(self, *docs: Document) -> PolicySet:
        return load_policies([str(write_policies(self.root / "policies", docs))])

    def records(self, namespace: str) -> set[str]:
        return set(self.emulator.records(self.index, namespace))

    def saved(self, filename: str) -> dict[str, Any] | None:
        """A state file's document, None when it was not written."""
        path = self.state / filename
        return json.loads(path.read_text()) if path.exists() else None

    def sample(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)

    def runs(self, policy: str) -> dict[str, float]:
        """The policy's runs counted so far, by outcome (the series the service creates at 0
        for the alerts, before any such run, are left out)."""
        return {
            s.labels["outcome"]: s.value
            for metric in self.metrics.registry.collect()
            if metric.name == "retention_reconcile_runs"
            for s in metric.samples
            if s.name.endswith("_total") and s.labels["policy"] == policy and s.value
        }

    def pending(self, policy: str) -> float | None:
        return self.sample("retention_records_pending", policy=policy)

    def last_success(self, policy: str) -> float | None:
        return self.sample("retention_last_success_timestamp_seconds", policy=policy)

    def reconciler_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The reconciler's options, completed by what the world provides."""
        return options

    @contextlib.asynccontextmanager
    async def reconciler(self, policies: PolicySet, **options: Any) -> AsyncIterator[Reconciler]:
        """A reconciler on this world's clock, connected to the emulator through the wire."""
        settings = PineconeSettings(api_key="test-key", controller_url=self.emulator.controller_url)
        async with connect(settings, transport=self.wire, pacer=Pacer(())) as client:
            yield Reconciler(
                client,
                self.metrics,
                structlog.get_logger(),
                clock=self.clock,
                state_dir=self.state,
                policies=policies,
                **self.reconciler_options(options),
            )

    def fire(
        self,
        policies: PolicySet,
        name: str,
        *,
        next_firing: datetime | None = None,
        **options: Any,
    ) -> list[Event]:
        """One firing of `name` on a new reconciler; the events it logged."""

        async def firing() -> None:
            async with self.reconciler(policies, **options) as reconciler:
                await asyncio.wait_for(
                    reconciler.reconcile(name, next_firing=next_firing), self.at_most
                )

        with capture_logs() as events:
            asyncio.run(firing())
        return events


def named(events: list[Event], *names: str) -> list[Event]:
    return [e for e in events if e["event"] in names]


def problems(events: list[Event]) -> list[Event]:
    return [e for e in events if e["log_level"] in ("error", "critical")]
