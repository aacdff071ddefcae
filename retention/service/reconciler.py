"""One reconcile of one policy: plan, guards, apply, verify, with the CLI's code paths.

The reconciler is the only place in the service that reads the clock. It never lets two jobs
work on the same (index, namespace): each run takes the locks of the namespaces its plan
touches, in sorted order so that two runs cannot deadlock, and re-checks the plan under them
(the apply's recount and guards).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from structlog.typing import FilteringBoundLogger

from retention.applying.executor import ApplySettings, Stop
from retention.errors import RetentionError
from retention.host import NotWritable, replace_atomically, utc_now
from retention.pinecone import PineconeClient
from retention.pipeline import apply_live, plan_live
from retention.planning.plan import Plan
from retention.planning.render import render_json
from retention.policy import PolicySet
from retention.service.metrics import Metrics

VERIFY_SHARE = 0.5
"""Of the time left until a policy's next firing, the share its verification may wait."""


@dataclass
class Reconciler:
    client: PineconeClient
    metrics: Metrics
    log: FilteringBoundLogger
    settings: ApplySettings = field(default_factory=ApplySettings)
    observe: bool = False
    state_dir: Path | None = None
    clock: Callable[[], datetime] = utc_now
    policies: PolicySet | None = None
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)
    _stops: set[Stop] = field(default_factory=set)
    _planning: dict[Stop, asyncio.Task[object]] = field(default_factory=dict)
    _holds: set[str] = field(default_factory=set)
    """Holds with a `retention_hold_unmatched` series."""
    _invalid: dict[str, set[tuple[str, str, str, str]]] = field(default_factory=dict)
    """Per policy, the label sets of its `retention_invalid_timestamp_records` series."""

    def stop_all(self) -> None:
        """Ask every running apply to finish its batches in flight and stop; cancel the runs
        still planning (a plan deletes nothing, and may be waiting out retries)."""
        for stop in self._stops:
            stop.request()
        for task in self._planning.values():
            task.cancel()

    async def reconcile(self, name: str, *, next_firing: datetime | None = None) -> None:
        """Plan, then (unless observing) apply and verify the policy `name`; never raises.

        Verification waits at most until shortly before `next_firing`: a namespace slow to
        show its deletes is reported pending and seen again by the next firing, never a
        reason for that firing to be skipped."""
        policies = self.policies
        log = self.log.bind(policy=name)
        if policies is None or not any(p.name == name for p in policies.policies):
            log.warning("reconcile_skipped", reason="policy no longer loaded")
            return
        one = replace(policies, policies=tuple(p for p in policies.policies if p.name == name))
        policy = one.policies[0]
        outcome = "error"
        stop = Stop()  # asked from the first step: a stop while planning applies nothing
        self._stops.add(stop)
        try:
            started = time.monotonic()
            plan = await self._plan(one, stop, log)
            if plan is None:
                outcome = "interrupted"
                log.info("reconcile_stopped", stage="planning")
                return
            self.metrics.plan_seconds.labels(name).observe(time.monotonic() - started)
            self._note(name, plan, policies, log)
            self._save(f"{name}.plan.json", render_json(plan))
            status = plan.policy(name).status
            if self.observe or policy.mode == "observe" or status != "ready":
                outcome = "observed" if status != "blocked" else "blocked"
                self.metrics.pending.labels(name).set(plan.policy(name).records)
                log.info("reconcile_observed", status=status, records=plan.policy(name).records)
            elif not plan.totals.records:
                outcome = "nothing_to_delete"
                self.metrics.pending.labels(name).set(0)
            elif stop.requested:
                outcome = "interrupted"
                log.info("reconcile_stopped", stage="before_apply")
            else:
                outcome = await self._apply(name, plan, policies, log, stop, next_firing)
            if outcome in ("applied", "nothing_to_delete", "observed"):
                self.metrics.last_success.labels(name).set(time.time())
        except RetentionError as exc:
            log.error("reconcile_failed", error=str(exc))
        except Exception as exc:  # a bug must not kill the scheduler; it is logged with its trace
            log.exception("reconcile_crashed", error=repr(exc))
        finally:
            self._stops.discard(stop)
            self.metrics.runs.labels(name, outcome).inc()

    async def _plan(
        self, policies: PolicySet, stop: Stop, log: FilteringBoundLogger
    ) -> Plan | None:
        """The plan, or None when `stop_all` cancelled it."""
        task = asyncio.current_task()
        assert task is not None
        self._planning[stop] = task
        try:
            return await plan_live(self.client, policies, now=self.clock(), log=log)
        except asyncio.CancelledError:
            if not stop.requested:
                raise
            task.uncancel()
            return None
        finally:
            del self._planning[stop]

    def _settings(self, next_firing: datetime | None) -> ApplySettings:
        if next_firing is None:
            return self.settings
        left = (next_firing - self.clock()).total_seconds() * VERIFY_SHARE
        return replace(
            self.settings, verify_timeout=max(0.0, min(self.settings.verify_timeout, left))
        )

    async def _apply(
        self,
        name: str,
        plan: Plan,
        policies: PolicySet,
        log: FilteringBoundLogger,
        stop: Stop,
        next_firing: datetime | None = None,
    ) -> str:
        keys = sorted({(a.index, a.namespace) for a in plan.actions if a.records})
        held: list[asyncio.Lock] = []
        try:
            for key in keys:  # in one order for every run, so two runs never deadlock
                lock = self._locks.setdefault(key, asyncio.Lock())
                await lock.acquire()
                held.append(lock)
            started = time.monotonic()
            report = await apply_live(
                self.client,
                plan,
                policies,
                now=self.clock(),
                settings=self._settings(next_firing),
                log=log,
                stop=stop,
                fresh=True,
                clock=self.clock,
            )
            self.metrics.apply_seconds.labels(name).observe(time.monotonic() - started)
        finally:
            for lock in held:  # only this run's: a cancelled run must not free another's
                lock.release()
        self._save(f"{name}.report.json", report.to_json())
        for r in report.results:
            a = r.action
            self.metrics.records_deleted.labels(name, a.index, a.namespace).inc(r.deleted)
        self.metrics.pending.labels(name).set(sum(r.remaining or 0 for r in report.pending))
        if report.failed:
            return "failed"
        return "interrupted" if report.interrupted else "applied"

    def _note(self, name: str, plan: Plan, policies: PolicySet, log: FilteringBoundLogger) -> None:
        """Log the plan's warnings and export what they are about: holds that protect nothing
        and records whose TTL field is not a time. Every plan checks every hold of the set, so
        each plan sets every hold's gauge; series of holds and policies no longer loaded go."""
        for text in plan.warnings:
            log.warning("plan_warning", warning=text)
        holds = {h.name for h in policies.holds}
        for gone in self._holds - holds:
            self.metrics.hold_unmatched.remove(gone)
        unmatched = set(plan.unmatched_holds)
        for hold in sorted(holds):
            self.metrics.hold_unmatched.labels(hold).set(1 if hold in unmatched else 0)
        self._holds = holds

        loaded = {p.name for p in policies.policies}
        for policy in set(self._invalid) - loaded:
            for key in self._invalid.pop(policy):
                self.metrics.invalid_timestamps.remove(*key)
        before = self._invalid.get(name, set())
        now: set[tuple[str, str, str, str]] = set()
        for found in plan.invalid_timestamps:
            key = (found.policy, found.rule, found.index, found.namespace)
            if found.records is None:
                # Not measured this time (the namespace changed while it was counted): the
                # last measurement, if any, stands.
                log.warning(
                    "invalid_timestamps_unmeasured",
                    rule=found.rule,
                    index=found.index,
                    namespace=found.namespace,
                    field=found.field,
                )
                if key in before:
                    now.add(key)
                continue
            self.metrics.invalid_timestamps.labels(*key).set(found.records)
            now.add(key)
        for key in before - now:
            self.metrics.invalid_timestamps.remove(*key)
        self._invalid[name] = now

    def _save(self, filename: str, text: str) -> None:
        if self.state_dir is None:
            return
        try:
            replace_atomically(self.state_dir / filename, text.encode())
        except NotWritable as exc:
            self.log.error("state_not_saved", file=filename, error=exc.reason)
