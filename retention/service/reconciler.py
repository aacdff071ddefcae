"""One reconcile of one policy: plan, guards, apply, verify, with the CLI's code paths.

The reconciler is the only place in the service that reads the clock. It never lets two jobs
work on the same (index, namespace): each run takes the locks of the namespaces its plan
touches, in sorted order so that two runs cannot deadlock, and re-checks the plan under them
(the apply's recount and guards).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from structlog.typing import FilteringBoundLogger

from retention.applying.executor import ApplySettings, Stop
from retention.applying.ledger import Ledger
from retention.applying.report import ActionResult, Report
from retention.errors import RetentionError
from retention.host import NotWritable, replace_atomically, utc_now
from retention.pinecone import PineconeClient
from retention.pipeline import apply_live, plan_live
from retention.planning.plan import Plan, format_time
from retention.planning.render import render_json
from retention.policy import Policy, PolicySet
from retention.service.metrics import Metrics
from retention.service.state import LAST_SUCCESS_FILE, write_last_success

DEFAULT_TREND_FACTOR = 10.0
TREND_WARMUP = 3
"""Applies of a policy in the ledger before the trend breaker weighs its firings."""
TREND_MEDIAN_FLOOR = 100
"""The median the breaker weighs against is taken as at least this many records, so that a
policy that usually finds little is not blocked for finding a few hundred."""
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
    ledger: Ledger | None = None
    """Where every apply is recorded, and the trend breaker reads each policy's history."""
    trend_runs: int = 7
    clock: Callable[[], datetime] = utc_now
    policies: PolicySet | None = None
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)
    _stops: set[Stop] = field(default_factory=set)
    _planning: dict[Stop, asyncio.Task[object]] = field(default_factory=dict)
    _holds: set[str] = field(default_factory=set)
    """Holds with a `retention_hold_unmatched` series."""
    _invalid: dict[str, set[tuple[str, str, str, str]]] = field(default_factory=dict)
    """Per policy, the label sets of its `retention_invalid_timestamp_records` series."""
    _overdue: dict[str, set[tuple[str, str, str, str]]] = field(default_factory=dict)
    """Per policy, the label sets of its `retention_overdue_records` series."""
    last_success: dict[str, datetime] = field(default_factory=dict)
    """When each policy last reconciled successfully (kept in the state directory)."""

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
        deletes = not (self.observe or policy.mode == "observe" or policy.suspend)
        if deletes and policy.windows and not policy.windows.is_open(self.clock()):
            # Windows limit deleting only: an observing or suspended policy is still planned.
            opens = policy.windows.opens_at(self.clock())
            log.info(
                "reconcile_skipped",
                reason="outside window",
                windows=policy.windows.describe(),
                opens=format_time(opens) if opens else None,
            )
            self.metrics.runs.labels(name, "outside_window").inc()
            return
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
            outcome, report = await self._decide(policy, plan, policies, log, stop, next_firing)
            self._compliance(policy, plan, report, outcome)
            if outcome in ("applied", "nothing_to_delete", "observed", "suspended"):
                self._succeeded(name, log)
        except RetentionError as exc:
            log.error("reconcile_failed", error=str(exc))
        except Exception as exc:  # a bug must not kill the scheduler; it is logged with its trace
            log.exception("reconcile_crashed", error=repr(exc))
        finally:
            self._stops.discard(stop)
            self.metrics.runs.labels(name, outcome).inc()

    async def _decide(
        self,
        policy: Policy,
        plan: Plan,
        policies: PolicySet,
        log: FilteringBoundLogger,
        stop: Stop,
        next_firing: datetime | None,
    ) -> tuple[str, Report | None]:
        """What this firing does with its plan: observe it, apply it, or stop short; the
        outcome, and the apply's report when there was one."""
        name = policy.name
        result = plan.policy(name)
        if self.observe or policy.mode == "observe" or result.status != "ready":
            self.metrics.pending.labels(name).set(result.records)
            log.info("reconcile_observed", status=result.status, records=result.records)
            if result.status in ("blocked", "suspended"):
                return result.status, None
            return "observed", None
        if not plan.totals.records:
            self.metrics.pending.labels(name).set(0)
            return "nothing_to_delete", None
        if stop.requested:
            log.info("reconcile_stopped", stage="before_apply")
            return "interrupted", None
        problem = self._trend_problem(policy, result.records)
        if problem is not None:
            self.metrics.trend_blocked.labels(name).inc()
            self.metrics.pending.labels(name).set(result.records)
            log.error("trend_blocked", records=result.records, reason=problem)
            return "trend_blocked", None
        return await self._apply(name, plan, policies, log, stop, next_firing)

    def _trend_problem(self, policy: Policy, planned: int) -> str | None:
        """Why this firing is too large next to the policy's history, if it is: more than
        trendFactor (10) times the median of its last applies in the ledger (the median taken
        as at least TREND_MEDIAN_FLOOR), once TREND_WARMUP applies are there."""
        factor = policy.guards.trend_factor
        factor = DEFAULT_TREND_FACTOR if factor is None else factor
        if not factor or self.ledger is None:
            return None
        history = self.ledger.recent_deleted(policy.name, self.trend_runs)
        if len(history) < min(TREND_WARMUP, self.trend_runs):
            return None
        median = statistics.median(history)
        limit = factor * max(median, TREND_MEDIAN_FLOOR)
        if planned <= limit:
            return None
        return (
            f"this firing would delete {planned:,} records, more than {factor:g} x the median "
            f"({median:,.0f}) of the policy's last {len(history)} applies; nothing was deleted; "
            "review the plan and apply it by hand (retention apply), or raise "
            "spec.limits.trendFactor (0 turns the breaker off)"
        )

    def _compliance(self, policy: Policy, plan: Plan, report: Report | None, outcome: str) -> None:
        """Export what the run left overdue (records past a TTL rule's cutoff, from the plan's
        counts and what the apply did with them) and, when nothing is left, that the policy
        was verified caught up."""
        name = policy.name
        ttl_rules = {r.name for r in policy.rules if r.ttl is not None}
        results = {r.action.id: r for r in report.results} if report is not None else {}
        left: dict[tuple[str, str, str, str], int] = {}
        for a in plan.actions:
            if a.policy == name and a.rule in ttl_rules and a.records:
                key = (name, a.rule, a.index, a.namespace)
                left[key] = left.get(key, 0) + _still_overdue(a.records, results.get(a.id))
        for key in self._overdue.get(name, set()) - {k for k, n in left.items() if n}:
            self.metrics.overdue.remove(*key)
        for key, n in left.items():
            if n:
                self.metrics.overdue.labels(*key).set(n)
        self._overdue[name] = {k for k, n in left.items() if n}
        self.metrics.policy_overdue.labels(name).set(sum(left.values()))
        caught_up = outcome == "nothing_to_delete" or (
            outcome == "applied" and report is not None and not report.pending
        )
        if caught_up and not sum(left.values()):
            self.metrics.last_verified.labels(name).set(self.clock().timestamp())

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
    ) -> tuple[str, Report]:
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
                ledger=self.ledger,
                command="run",
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
            return "failed", report
        if report.interrupted:
            return "interrupted", report
        if any(r.status == "window-closed" for r in report.results):
            return "window_closed", report
        if any(r.status == "outside-window" for r in report.results):
            return "outside_window", report
        return "applied", report

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
        for policy in set(self._overdue) - loaded:
            for key in self._overdue.pop(policy):
                self.metrics.overdue.remove(*key)
            self.metrics.policy_overdue.remove(policy)
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

    def _succeeded(self, name: str, log: FilteringBoundLogger) -> None:
        at = self.clock()
        self.metrics.last_success.labels(name).set(at.timestamp())
        self.last_success[name] = at
        if self.state_dir is not None:
            problem = write_last_success(self.state_dir, self.last_success)
            if problem:
                log.error("state_not_saved", file=LAST_SUCCESS_FILE, error=problem)

    def _save(self, filename: str, text: str) -> None:
        if self.state_dir is None:
            return
        try:
            replace_atomically(self.state_dir / filename, text.encode())
        except NotWritable as exc:
            self.log.error("state_not_saved", file=filename, error=exc.reason)


def _still_overdue(planned: int, result: ActionResult | None) -> int:
    """Of an action's planned records past their TTL, those the run left: all of them when it
    did not run (observed, blocked, stopped), what a pending verification still sees, or what
    a failed or interrupted action did not delete."""
    if result is None or result.status in (
        "skipped",
        "interrupted",
        "outside-window",
        "window-closed",
        "failed",
    ):
        return max(0, planned - (result.deleted if result is not None else 0))
    if result.verification == "pending":
        return result.remaining or 0
    return 0
