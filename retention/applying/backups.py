"""A backup before a large apply (`limits.backupAbove`): taken, awaited Ready, recorded.

When the actions of a policy still to run would delete more than its `backupAbove` records, the
index is backed up before anything of that policy is deleted, once per index and apply (several
policies on one index share the backup), and the apply waits until Pinecone says it is Ready.
A backup that is refused, fails or is not Ready in time fails the policies that asked for it,
with nothing of theirs deleted; the others go on. Pod indexes have no backups: a policy on one
is refused the same way, since what it asked for cannot be had.

A backup keeps the records it holds until the backup itself is deleted: an erasure that must be
complete has to cover the backups too (the plan says so). Pinecone's backups hold only records
at least about 15 minutes old, so the newest writes may be missing from it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from structlog.typing import FilteringBoundLogger

from retention.applying.ledger import Record
from retention.applying.report import BackupTaken
from retention.errors import BackupFailed, RetentionError
from retention.pinecone import PineconeClient
from retention.pinecone.backups import back_up
from retention.planning.plan import Action, Plan
from retention.policy import PolicySet


@dataclass
class Backups:
    """The backups an apply took, and the policies refused for want of one."""

    taken: list[BackupTaken] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    """Policy name -> why its actions were not run."""


def wanted(
    policies: PolicySet, actions: Sequence[Action], tolerance: float
) -> dict[str, list[str]]:
    """Index -> the policies whose actions still to run may delete more than their
    backupAbove: their planned counts plus the growth `tolerance` lets an apply delete (a
    record two of them select counted twice), so no apply deletes more without a backup."""
    limits = {p.name: p.guards.backup_above for p in policies.policies}
    planned: dict[tuple[str, str], int] = {}
    for a in actions:
        planned[(a.index, a.policy)] = planned.get((a.index, a.policy), 0) + a.records
    needs: dict[str, list[str]] = {}
    for (index, policy), records in sorted(planned.items()):
        limit = limits.get(policy)
        if limit is not None and math.ceil(records * (1 + tolerance)) > limit:
            needs.setdefault(index, []).append(policy)
    return needs


async def take_backups(
    client: PineconeClient,
    plan: Plan,
    needs: dict[str, list[str]],
    *,
    timeout: float,
    record: Record,
    log: FilteringBoundLogger,
    clock: Callable[[], datetime],
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Backups:
    """Back up each index of `needs` and wait for it; what was taken and who was refused."""
    done = Backups()
    for index, names in needs.items():
        started = monotonic()
        log.info("backup_started", index=index, policies=names)
        try:
            control, name = client.control_of(index)
            description = await control.describe_index(name)
            if description.serverless is False:
                raise BackupFailed(
                    f"index {index} is a pod index, which Pinecone cannot back up",
                    index_name=index,
                )
            info = await back_up(
                control,
                name,
                name=f"retention-{plan.fingerprint.removeprefix('sha256:')[:12]}",
                description=f"before retention apply of {', '.join(names)}",
                timeout=timeout,
                sleep=sleep,
                monotonic=monotonic,
            )
        except RetentionError as exc:  # refused, failed, late, or gone while awaited
            failed = exc if isinstance(exc, BackupFailed) else None
            backup_id = failed.backup_id if failed is not None else None
            status = (failed.backup_status if failed is not None else None) or "refused"
            record.backup(BackupTaken(index, backup_id or "", status, None, tuple(names)), clock())
            log.error("backup_failed", index=index, backup_id=backup_id, error=str(exc))
            for name in names:
                done.refused[name] = (
                    f"{exc}; policy {name} asks for a backup first (limits.backupAbove), so "
                    "nothing of it was deleted"
                )
            continue
        taken = BackupTaken(index, info.backup_id, info.status, info.record_count, tuple(names))
        record.backup(taken, clock())
        done.taken.append(taken)
        log.info(
            "backup_ready",
            index=index,
            backup_id=info.backup_id,
            records=info.record_count,
            seconds=round(monotonic() - started, 3),
        )
    return done
