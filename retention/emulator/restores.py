"""Restoring a backup into a new index, and the restore jobs that report on it.

`POST /backups/{backup_id}/create-index` `{"name", "tags"?, "deletion_protection"?}` (2026-07
adds `read_capacity`, accepted and ignored here) answers 202 `{"restore_job_id", "index_id"}`
(SPEC-2025-10 `CreateIndexFromBackupResponse`; unchanged in 2026-04 and in SDK 10's 2026-07
model). The new index holds the backup's snapshot at once, has the backup's dimension, metric,
vector type and metadata schema, and describes itself `Initializing` until
`EmulatorConfig.restore_ready_ms` has passed, then `Ready`, in the request version's shape
(2026-07 adds `source_backup_id`). Omitted tags are the backup's (SDK10
`CreateIndexFromBackupRequest`: "When omitted, the server copies the backup's tags").

The job (`RestoreJobModel`: restore_job_id, backup_id, target_index_name, target_index_id,
status, created_at, completed_at, percent_complete) is `Pending` until then and `Completed`
after; `completed_at` and `percent_complete` (100.0) appear only once completed, as SDK 10
documents ("set only once status is Completed", `client/restore_jobs.py`). `GET
/restore-jobs` pages by `limit` (1-100, default 10) and `paginationToken`; a job whose target
index was deleted is left out of the list and described as 404, as the SDK warns the server
does.

Refusals: an unknown backup 404 `Backup <id> not found.`; a taken name 409 `Resource already
exists.`; a bad name 400 as for any index; no `name` 422 (the spec's deserialisation wording);
a backup that is not Ready (still Initializing, or failed) 400 (a guess: the spec lists 400
for invalid requests and no 412 for this route; SDK 10 says only that an ApiError follows
"if the backup is not yet complete").
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from retention.emulator.controlplane import backup_of, iso, page_of
from retention.emulator.handling import Call, Reply
from retention.emulator.indexshapes import check_name, check_protection, check_tags, missing_field
from retention.emulator.model import Backup, IndexInfo, RestoreJob
from retention.emulator.refusals import ApiError, bad_request


def create_index_from_backup(call: Call) -> Reply:
    backup = backup_of(call)
    if "name" not in call.body:
        raise missing_field("name")
    name = check_name(call.body.get("name"))
    read_capacity = call.body.get("read_capacity")
    if read_capacity is not None and not isinstance(read_capacity, dict):
        raise bad_request("read_capacity must be an object")
    now = call.store.clock()
    if now < backup.ready_at:
        raise bad_request(f"Backup {backup.backup_id} is not ready yet; wait for status Ready")
    if backup.outcome != "Ready":
        raise bad_request(
            f"Backup {backup.backup_id} failed ({backup.outcome}); nothing to restore"
        )
    if name in call.store.indexes:
        raise ApiError(409, "Resource already exists.")
    tags = check_tags(call.body.get("tags")) if "tags" in call.body else backup.tags
    info = _restored_info(
        backup, name, tags, check_protection(call.body.get("deletion_protection"))
    )
    delay = call.runtime.config.restore_ready_ms / 1000
    state = call.store.add_index(info)
    state.ready_at = now + delay
    for ns_name, records in backup.snapshot.items():
        state.namespace(ns_name).put({rid: r.copy() for rid, r in records.items()})
    started = datetime.now(UTC)
    job = RestoreJob(
        restore_job_id=str(uuid.uuid4()),
        backup_id=backup.backup_id,
        target_index_name=name,
        target_index_id=info.uid,
        created_at=iso(started),
        completed_at=iso(started + timedelta(seconds=delay)),
        ready_at=now + delay,
    )
    call.store.add_restore_job(job)
    return Reply({"restore_job_id": job.restore_job_id, "index_id": info.uid}, status=202)


def _restored_info(
    backup: Backup, name: str, tags: dict[str, str] | None, protection: str
) -> IndexInfo:
    return IndexInfo(
        name=name,
        dimension=backup.dimension,
        metric=backup.metric,
        uid=str(uuid.uuid4()),
        cloud=backup.cloud,
        region=backup.region,
        deletion_protection=protection,
        tags=tags,
        vector_type=backup.vector_type,
        metadata_schema=backup.metadata_schema,
        source_backup_id=backup.backup_id,
    )


def job_model(call: Call, job: RestoreJob) -> dict[str, Any]:
    done = call.store.clock() >= job.ready_at
    out: dict[str, Any] = {
        "restore_job_id": job.restore_job_id,
        "backup_id": job.backup_id,
        "target_index_name": job.target_index_name,
        "target_index_id": job.target_index_id,
        "status": "Completed" if done else "Pending",
        "created_at": job.created_at,
    }
    if done:
        out["completed_at"] = job.completed_at
        out["percent_complete"] = 100.0
    return out


def _visible(call: Call) -> list[RestoreJob]:
    """Jobs whose target index still exists (by ID: a new index of the same name is not it)."""
    alive = {state.info.uid for state in call.store.indexes.values()}
    jobs = (job for job in call.store.restore_jobs.values() if job.target_index_id in alive)
    return sorted(jobs, key=lambda j: (j.created_at, j.restore_job_id))


def list_restore_jobs(call: Call) -> Reply:
    return Reply(page_of(call, _visible(call), job_model))


def describe_restore_job(call: Call) -> Reply:
    job_id = call.path("job_id")
    job = next((j for j in _visible(call) if j.restore_job_id == job_id), None)
    if job is None:
        raise ApiError(404, f"Restore job {job_id} not found.")
    return Reply(job_model(call, job))
