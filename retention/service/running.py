"""`retention run`: schedules, reload, health and metrics, and an orderly SIGTERM.

    policies dir ──poll──▶ load ──valid──▶ jobs (one per policy) ──fire──▶ reconcile
                                 └─invalid─▶ errors logged and counted; last good set runs on

On SIGTERM: stop scheduling, let every running apply finish its batches in flight (within the
grace period), stop the HTTP server, exit 0.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from structlog.typing import FilteringBoundLogger

from retention.applying.executor import ApplySettings
from retention.applying.ledger import Ledger
from retention.errors import PolicyErrors, RetentionError
from retention.pinecone import PineconeClient
from retention.policy import Policy, PolicySet, load_policies
from retention.service.http import listen, make_app, make_server
from retention.service.metrics import Metrics
from retention.service.reconciler import Reconciler
from retention.service.scheduling import MISFIRE_GRACE, period_of, trigger_for
from retention.service.sharding import Shard
from retention.service.state import read_last_success
from retention.service.watching import content_digest


@dataclass(frozen=True)
class ServiceSettings:
    paths: tuple[str, ...]
    http_host: str = "0.0.0.0"
    """Where health and metrics listen; in a pod, every interface."""
    http_port: int = 8080
    """0 picks a free port (logged in `service_started`)."""
    reload_interval: float = 5.0
    """Seconds between looks at the policy directory."""
    observe: bool = False
    """Plan only, for every policy: expose what would be deleted, delete nothing."""
    grace: float = 50.0
    """Seconds SIGTERM waits for running applies to finish their batches in flight."""
    state_dir: Path | None = None
    """Where the last plan and report of each policy are written, if anywhere."""
    trend_runs: int = 7
    """The trend breaker weighs a firing against the median of this many earlier applies."""
    ready_ttl: float = 15.0
    """How long a successful Pinecone check keeps the service ready."""
    shard: Shard = field(default_factory=Shard)
    """The (project, index) pairs this replica reconciles (all of them unless sharded)."""
    apply: ApplySettings = field(default_factory=ApplySettings)


class Service:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        client: PineconeClient,
        metrics: Metrics,
        log: FilteringBoundLogger,
        ledger: Ledger | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.metrics = metrics
        self.log = log
        self.reconciler = Reconciler(
            client,
            metrics,
            log,
            settings=settings.apply,
            observe=settings.observe,
            state_dir=settings.state_dir,
            ledger=ledger,
            trend_runs=settings.trend_runs,
        )
        self.reconciler.last_success, problem = read_last_success(settings.state_dir)
        if problem:
            log.warning("state_not_read", error=problem)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.shutdown = asyncio.Event()
        self.running: set[asyncio.Task[None]] = set()
        self.digest: str | None = None
        self.started = time.monotonic()
        self._pinecone_ok_at: float | None = None

    # -- policies and jobs

    def reload(self) -> bool:
        """Load the policies if they changed; True when a new set was installed."""
        digest = content_digest(self.settings.paths)
        if digest == self.digest:
            return False
        self.digest = digest
        try:
            policies = load_policies(self.settings.paths)
        except PolicyErrors as exc:
            self.metrics.reload_failures.inc()
            for error in exc.errors:
                self.log.error("policy_invalid", error=str(error))
            self.log.error(
                "config_reload_rejected",
                errors=len(exc.errors),
                keeping=len(self.reconciler.policies.policies) if self.reconciler.policies else 0,
            )
            return False
        shard = self.settings.shard
        owned = shard.restrict(policies)
        self._install(owned)
        self.metrics.reloads.inc()
        self.metrics.policies.set(len(policies.policies))
        self.metrics.policies_scheduled.set(len(owned.policies))
        self.log.info(
            "config_loaded",
            policies=[p.name for p in owned.policies],
            holds=[h.name for h in owned.holds],
            digest=policies.digest,
            **(
                {"shard": shard.label, "other_shards": len(policies.policies) - len(owned.policies)}
                if shard.count > 1
                else {}
            ),
        )
        return True

    def _install(self, policies: PolicySet) -> None:
        old = (
            {p.name: p for p in self.reconciler.policies.policies}
            if self.reconciler.policies
            else {}
        )
        self.reconciler.policies = policies
        for name in old.keys() - {p.name for p in policies.policies}:
            self.scheduler.remove_job(name)
            self.metrics.schedule_seconds.remove(name)
        for policy in policies.policies:
            self._schedule(policy, old.get(policy.name))

    def _schedule(self, policy: Policy, before: Policy | None) -> None:
        """(Re)schedule the policy's job when its timing changed; a schedule APScheduler
        refuses is logged and the policy left unscheduled, never a crash of the service."""
        now = self.reconciler.clock()
        try:
            period = period_of(policy, now)
            trigger = trigger_for(
                policy, now=now, last_success=self.reconciler.last_success.get(policy.name)
            )
        except (ValueError, OverflowError) as exc:
            self.log.error("policy_unschedulable", policy=policy.name, error=str(exc))
            return
        self.metrics.schedule_seconds.labels(policy.name).set(period)
        self._export_from_start(policy.name)
        if before is not None and (before.schedule, before.jitter) == (
            policy.schedule,
            policy.jitter,
        ):
            return  # same timing: the job reads the new rules when it next fires
        self.scheduler.add_job(
            self._job,
            trigger,
            args=(policy.name,),
            id=policy.name,
            name=f"reconcile {policy.name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE,
            replace_existing=True,
        )
        self.log.info("policy_scheduled", policy=policy.name, schedule=policy.schedule or "1h")

    def _export_from_start(self, name: str) -> None:
        """Series the alerts read, present from the policy's first scheduling: a counter first
        seen at 1 has no increase for Prometheus (its first failure would page nobody), and a
        last success known from the state directory is known before the next one."""
        for outcome in ("error", "failed"):
            self.metrics.runs.labels(name, outcome)
        self.metrics.trend_blocked.labels(name)
        succeeded = self.reconciler.last_success.get(name)
        if succeeded is not None:
            self.metrics.last_success.labels(name).set(succeeded.timestamp())

    async def _job(self, name: str) -> None:
        if self.shutdown.is_set():
            return
        task = asyncio.current_task()
        assert task is not None
        self.running.add(task)
        job = self.scheduler.get_job(name)
        try:
            await self.reconciler.reconcile(
                name, next_firing=job.next_run_time if job is not None else None
            )
        finally:
            self.running.discard(task)

    async def _watch(self) -> None:
        while not self.shutdown.is_set():
            try:
                await asyncio.wait_for(self.shutdown.wait(), timeout=self.settings.reload_interval)
            except TimeoutError:
                self.reload()

    # -- health

    def health(self) -> dict[str, object]:
        return {
            "uptime_seconds": round(time.monotonic() - self.started, 1),
            "scheduler": self.scheduler.running,
            "jobs_running": len(self.running),
            "shard": self.settings.shard.label,
        }

    async def ready(self) -> tuple[bool, dict[str, object]]:
        loaded = self.reconciler.policies is not None
        facts: dict[str, object] = {"policies_loaded": loaded, "shard": self.settings.shard.label}
        if self.reconciler.policies is not None:
            facts["policies"] = len(self.reconciler.policies.policies)
        now = time.monotonic()
        if self._pinecone_ok_at is None or now - self._pinecone_ok_at > self.settings.ready_ttl:
            try:
                for client in self.client.clients():  # every project reached so far
                    await asyncio.wait_for(client.control.list_indexes(), timeout=5.0)
            except (RetentionError, TimeoutError) as exc:
                return False, {**facts, "pinecone": f"unreachable: {exc}"}
            self._pinecone_ok_at = now
        return loaded, {**facts, "pinecone": "ok"}

    # -- the whole life

    async def run(self) -> int:
        # First of all, so that a port in use is an error before any policy is scheduled.
        sockets = listen(self.settings.http_host, self.settings.http_port)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        shard = self.settings.shard
        self.metrics.shard.labels(str(shard.index), str(shard.count)).set(1)
        self.metrics.shards.set(shard.count)
        self.scheduler.start()
        self.reload()
        server = make_server(
            make_app(self.metrics, ready=self.ready, health=self.health),
            self.settings.http_host,
            self.settings.http_port,
        )
        http = asyncio.create_task(server.serve(sockets=sockets))
        watcher = asyncio.create_task(self._watch())
        self.log.info(
            "service_started",
            http_port=sockets[0].getsockname()[1],
            observe=self.settings.observe,
            shard=self.settings.shard.label,
        )
        await self.shutdown.wait()

        # No new firings, but the running jobs go on: APScheduler's shutdown cancels the tasks
        # of running jobs, so it comes only after they finished their batches (or the grace).
        self.scheduler.pause()
        self.reconciler.stop_all()
        if self.running:
            self.log.info("service_draining", jobs=len(self.running))
            await asyncio.wait(set(self.running), timeout=self.settings.grace)
        self.scheduler.shutdown(wait=False)
        server.should_exit = True
        await asyncio.gather(http, watcher, return_exceptions=True)
        self.log.info("service_stopped")
        return 0

    def _on_signal(self, signum: int) -> None:
        self.log.info("stop_requested", signal=signal.Signals(signum).name)
        self.reconciler.stop_all()
        self.shutdown.set()
