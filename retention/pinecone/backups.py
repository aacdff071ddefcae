"""Back an index up and wait until the backup is Ready, as Pinecone documents the flow.

    create_backup                    POST /indexes/{name}/backups   usually Initializing
    describe_backup, every 0.2 s     GET /backups/{id}              the wait doubles up to `poll`
        ... until the status is no longer Initializing (as SDK 10 polls)
    Ready                            returned
    anything else, or the deadline   BackupFailed, one line naming backup, index and status

A backup holds only records at least about 15 minutes old (DOC:backups-overview): the last
minutes of writes may be missing from it, which the caller should say. A 403 on create is
Pinecone refusing a new backup, usually the project's backup quota (none on the Starter plan),
and becomes a `BackupFailed` too. The create is not retried by anything here; the session's
retries of a 5xx or a lost answer may, rarely, start a second backup.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from retention.errors import BackupFailed, Forbidden
from retention.pinecone.control import ControlPlane
from retention.pinecone.models import BackupInfo

FIRST_POLL = 0.2
"""Seconds before the first `describe_backup`; each following wait doubles, up to `poll`."""
INITIALIZING = "Initializing"
READY = "Ready"


async def back_up(
    control: ControlPlane,
    index_name: str,
    *,
    name: str,
    description: str,
    timeout: float,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    poll: float = 5.0,
) -> BackupInfo:
    """Create a backup of `index_name` and return it once Ready.

    Raises `BackupFailed` when Pinecone refuses it (403), when it ends in any status but Ready,
    or when it is still Initializing `timeout` seconds after the create was sent.
    """
    if not (math.isfinite(timeout) and timeout >= 0):
        raise ValueError(f"timeout must be a non-negative number of seconds, got: {timeout:g}")
    if not (math.isfinite(poll) and poll > 0):
        raise ValueError(f"poll must be a positive number of seconds, got: {poll:g}")
    started = monotonic()
    try:
        backup = await control.create_backup(index_name, name=name, description=description)
    except Forbidden as exc:
        raise _refused(index_name, exc) from exc
    wait = min(FIRST_POLL, poll)
    while backup.status == INITIALIZING:
        left = timeout - (monotonic() - started)
        if left <= 0:
            raise BackupFailed(
                f"backup {backup.backup_id} of index {index_name} not Ready after {timeout:g}s "
                f"(still {INITIALIZING})",
                index_name=index_name,
                backup_id=backup.backup_id,
                backup_status=backup.status,
            )
        await sleep(min(wait, left))
        wait = min(wait * 2, poll)
        backup = await control.describe_backup(backup.backup_id)
    if backup.status != READY:
        raise BackupFailed(
            f"backup {backup.backup_id} of index {index_name} ended {backup.status}",
            index_name=index_name,
            backup_id=backup.backup_id,
            backup_status=backup.status,
        )
    return backup


def _refused(index_name: str, exc: Forbidden) -> BackupFailed:
    """The 403 on create as one line: Pinecone's words, and what to do about a quota."""
    said = exc.message.removeprefix(f"{exc.operation}: ") if exc.operation else exc.message
    hint = ""
    if "quota" in said.lower():
        hint = (
            " (the project's backup quota is spent, or its plan allows none: delete old "
            "backups or raise the quota)"
        )
    return BackupFailed(
        f"backup of index {index_name} refused: {said}{hint}",
        index_name=index_name,
        status=exc.status,
        code=exc.code,
        request_id=exc.request_id,
        operation=exc.operation,
    )
