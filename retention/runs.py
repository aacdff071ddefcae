"""Plan and apply against the live index: the code paths the CLI and the service share."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from retention import __version__
from retention.applying.executor import ApplySettings, Executor, Stop
from retention.applying.journal import Journal
from retention.applying.progress import Progress
from retention.applying.report import Report
from retention.inventory import LiveInventory
from retention.pinecone import PineconeClient
from retention.planning.plan import Plan
from retention.planning.planner import PlanOptions, make_plan
from retention.policy import PolicySet


async def plan_live(
    client: PineconeClient,
    policies: PolicySet,
    *,
    now: datetime,
    git_revision: str | None = None,
    log: Any,
    bar: TextIO | None = None,
) -> Plan:
    started = time.monotonic()
    inventory = LiveInventory(client, progress=bar)
    try:
        plan = await make_plan(
            policies,
            inventory,
            now=now,
            options=PlanOptions(tool_version=__version__, git_revision=git_revision),
        )
    finally:
        inventory.finish()
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
    *,
    now: datetime,
    digest: str | None,
    settings: ApplySettings,
    log: Any,
    stop: Stop,
    journal: Path | None = None,
    bar: TextIO | None = None,
    only: Sequence[str] | None = None,
) -> Report:
    executor = Executor(
        client,
        settings=settings,
        journal=Journal(journal, plan.fingerprint),
        log=log,
        progress=Progress(stream=bar, log=log),
        stop=stop,
    )
    started = time.monotonic()
    report = await executor.apply(plan, now=now, digest=digest, only=only)
    log.info(
        "apply_finished",
        deleted=report.deleted,
        actions=len(report.results),
        verified=sum(1 for r in report.results if r.verification == "verified"),
        pending=len(report.pending),
        failed=len(report.failed),
        interrupted=report.interrupted,
        seconds=round(time.monotonic() - started, 3),
    )
    return report
