"""Plan and apply against the live index: the code paths the CLI and the service share."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from structlog.typing import FilteringBoundLogger

from retention import __version__
from retention.applying.executor import ApplySettings, Executor, Stop
from retention.applying.journal import Journal
from retention.applying.ledger import NOT_RECORDED, Ledger, LedgerError, Run, outcome_of
from retention.applying.progress import Progress
from retention.applying.report import Report
from retention.errors import RetentionError
from retention.host import actor, utc_now
from retention.pinecone import PineconeClient
from retention.pinecone.inventory import LiveInventory
from retention.planning.plan import Plan
from retention.planning.planner import DEFAULT_SAMPLES, PlanOptions, make_plan
from retention.policy import PolicySet


class NamespaceProgress:
    """`namespaces planned: 1,234 of 10,000` on a terminal, once a plan has run for a couple
    of seconds (a short plan prints nothing), redrawn at most five times a second."""

    AFTER = 2.0

    def __init__(self, stream: TextIO, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.monotonic = monotonic
        self.started = monotonic()
        self.shown_at = 0.0
        self.drawn = False
        self.last = (0, 0)

    def __call__(self, done: int, total: int) -> None:
        self.last = (done, total)
        now = self.monotonic()
        if now - self.started < self.AFTER or now - self.shown_at < 0.2:
            return
        self.shown_at = now
        self.drawn = True
        self.stream.write(f"\rnamespaces planned: {done:,} of {total:,}")
        self.stream.flush()

    def finish(self) -> None:
        if self.drawn:
            done, total = self.last
            self.stream.write(f"\rnamespaces planned: {done:,} of {total:,}\n")
            self.stream.flush()


async def plan_live(
    client: PineconeClient,
    policies: PolicySet,
    *,
    now: datetime,
    git_revision: str | None = None,
    log: FilteringBoundLogger,
    bar: TextIO | None = None,
    samples: int = DEFAULT_SAMPLES,
) -> Plan:
    started = time.monotonic()
    inventory = LiveInventory(client, progress=bar)
    progress = NamespaceProgress(bar) if bar is not None else None
    options = PlanOptions(
        tool_version=__version__, git_revision=git_revision, samples=samples, progress=progress
    )
    try:
        plan = await make_plan(policies, inventory, now=now, options=options)
    finally:
        inventory.finish()
        if progress is not None:
            progress.finish()
    log.info(
        "plan_computed",
        records=plan.totals.records,
        actions=plan.totals.actions,
        namespaces=plan.totals.namespaces,
        indexes=plan.totals.indexes,
        blocked=[p.name for p in plan.policies if p.status == "blocked"],
        seconds=round(time.monotonic() - started, 3),
        fingerprint=plan.fingerprint,
    )
    return plan


async def apply_live(
    client: PineconeClient,
    plan: Plan,
    policies: PolicySet,
    *,
    now: datetime,
    settings: ApplySettings,
    log: FilteringBoundLogger,
    stop: Stop,
    journal: Path | None = None,
    ledger: Ledger | None = None,
    command: str = "apply",
    bar: TextIO | None = None,
    only: Sequence[str] | None = None,
    fresh: bool = False,
    clock: Callable[[], datetime] = utc_now,
) -> Report:
    """Apply `plan`, answering to `policies` (it must be theirs, action by action); `fresh`
    when this process made it moments ago (its counts stand). `clock` dates the report's
    end and each action's (its start is `now`). The `ledger`, when given, records the run
    from its start (a refused plan too) to its outcome."""
    names = list(only) if only is not None else [p.name for p in plan.policies]
    run = (
        ledger.begin(plan, command=command, actor=actor(), started=now, policies=names)
        if ledger is not None
        else None
    )
    executor = Executor(
        client,
        clock=clock,
        settings=settings,
        journal=Journal(journal, plan.fingerprint),
        log=log,
        progress=Progress(stream=bar, log=log),
        stop=stop,
        record=run if run is not None else NOT_RECORDED,
    )
    started = time.monotonic()
    try:
        report = await executor.apply(plan, policies, now=now, only=only, fresh=fresh)
    except RetentionError as exc:
        outcome = "failed" if run is not None and run.touched else "refused"
        _end(run, None, outcome, clock(), str(exc), log)
        raise
    except BaseException:
        _end(run, None, "interrupted", clock(), "the apply was cancelled", log)
        raise
    report.run = run.run if run is not None else None
    report.ledger_error = executor.ledger_error or _end(
        run, report, outcome_of(report), report.finished or clock(), None, log
    )
    _finished(report, log, time.monotonic() - started)
    return report


def _finished(report: Report, log: FilteringBoundLogger, seconds: float) -> None:
    log.info(
        "apply_finished",
        deleted=report.deleted,
        actions=len(report.results),
        verified=sum(1 for r in report.results if r.verification == "verified"),
        pending=len(report.pending),
        failed=len(report.failed),
        interrupted=report.interrupted,
        seconds=round(seconds, 3),
        ledger_run=report.run,
    )


def _end(
    run: Run | None,
    report: Report | None,
    outcome: str,
    at: datetime,
    error: str | None,
    log: FilteringBoundLogger,
) -> str | None:
    """Record the run's end; the reason when the ledger could not take it."""
    if run is None:
        return None
    try:
        run.end(report, outcome, at, error)
    except LedgerError as exc:
        log.error("ledger_failed", error=str(exc))
        return str(exc)
    return None
