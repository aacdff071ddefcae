"""Restoring a backup into a new index, and the restore jobs (SPEC-2025-10 shapes, SDK 10).

`POST /backups/{id}/create-index` answers 202 `{restore_job_id, index_id}`; the new index holds
the backup's snapshot, is `Initializing` and its job `Pending` until `restore_ready_ms` has
passed on the emulator clock, then `Ready` and `Completed`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pinecone import IndexModel
from pinecone.errors import ConflictError, FailedPreconditionError, NotFoundError

from retention.emulator import Emulator, EmulatorConfig, ManualClock
from tests.emulator import openapi
from tests.emulator.conftest import StartEmulator, http, sdk, vec


def _restorable(start_emulator: StartEmulator, clock: ManualClock, **fields: Any) -> Emulator:
    """An index `idx` with 3 + 2 old records in two namespaces, and a Ready backup of it."""
    emulator = start_emulator(
        indexes=(("idx", 4),),
        clock=clock,
        backup_min_age_s=0,
        backup_ready_ms=0,
        restore_ready_ms=1000,
        **fields,
    )
    emulator.upsert("idx", "a", ((f"a{i}", vec(i), {"n": i}) for i in range(3)))
    emulator.upsert("idx", "b", ((f"b{i}", vec(i), {}) for i in range(2)))
    return emulator


def _backup(c: httpx.Client) -> str:
    r = c.post("/indexes/idx/backups", json={"name": "nightly"})
    assert r.status_code == 201, r.text
    return str(r.json()["backup_id"])


@openapi.needs_specs
def test_restore_creates_an_initializing_index_then_a_ready_one(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """The job is Pending and the index Initializing until the restore is done; the index
    holds the snapshot from the start; every answer matches the 2025-10 spec."""
    emulator = _restorable(start_emulator, clock)

    def ctrl(path: str, method: str, status: int, body: Any) -> None:
        openapi.check("control", "2025-10", path, method, status, body)

    with http(emulator, name=None) as c:
        backup_id = _backup(c)
        r = c.post(f"/backups/{backup_id}/create-index", json={"name": "copy"})
        assert r.status_code == 202
        ctrl("/backups/{backup_id}/create-index", "post", 202, r.json())
        job_id, index_id = r.json()["restore_job_id"], r.json()["index_id"]
        job = c.get(f"/restore-jobs/{job_id}").json()
        ctrl("/restore-jobs/{job_id}", "get", 200, job)
        assert (job["status"], job["backup_id"], job["target_index_name"]) == (
            "Pending",
            backup_id,
            "copy",
        )
        assert job["target_index_id"] == index_id and "percent_complete" not in job
        described = c.get("/indexes/copy").json()
        assert described["status"] == {"ready": False, "state": "Initializing"}
        assert (described["dimension"], described["metric"]) == (4, "cosine")
        clock.advance(1.0)
        assert c.get("/indexes/copy").json()["status"] == {"ready": True, "state": "Ready"}
        done = c.get(f"/restore-jobs/{job_id}").json()
        assert (done["status"], done["percent_complete"]) == ("Completed", 100.0)
        assert done["completed_at"] >= done["created_at"]
        listed = c.get("/restore-jobs").json()
        ctrl("/restore-jobs", "get", 200, listed)
        assert [j["restore_job_id"] for j in listed["data"]] == [job_id]
    assert sorted(emulator.records("copy", "a")) == ["a0", "a1", "a2"]
    assert sorted(emulator.records("copy", "b")) == ["b0", "b1"]
    with http(emulator, name="copy") as data:
        assert data.post("/describe_index_stats", json={}).json()["totalVectorCount"] == 5


def test_the_2026_07_shape_names_the_source_backup(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """Under 2026-07 the restored index is described by schema and names its backup; tags
    default to the backup's, deletion protection to the request's."""
    emulator = _restorable(start_emulator, clock)
    emulator.store.indexes["idx"].info.tags = {"team": "search"}
    with http(emulator, "2026-07", name=None) as c:
        backup_id = _backup(c)
        body = {
            "name": "copy",
            "deletion_protection": "enabled",
            "read_capacity": {"mode": "OnDemand"},
        }
        assert c.post(f"/backups/{backup_id}/create-index", json=body).status_code == 202
        clock.advance(1.0)
        model = c.get("/indexes/copy").json()
    assert model["source_backup_id"] == backup_id
    assert model["schema"]["fields"]["_values"] == {
        "type": "dense_vector",
        "dimension": 4,
        "metric": "cosine",
    }
    assert (model["tags"], model["deletion_protection"]) == ({"team": "search"}, "enabled")


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/backups/nope/create-index", {"name": "copy"}, 404, "Backup nope not found."),
        ("/backups/{id}/create-index", {"name": "idx"}, 409, "Resource already exists."),
        ("/backups/{id}/create-index", {"name": "Bad_Name"}, 400, "Index name must contain"),
        ("/backups/{id}/create-index", {}, 422, "missing field `name`"),
    ],
)
def test_restore_refusals(
    start_emulator: StartEmulator,
    clock: ManualClock,
    path: str,
    body: dict[str, Any],
    status: int,
    message: str,
) -> None:
    emulator = _restorable(start_emulator, clock)
    with http(emulator, name=None) as c:
        backup_id = _backup(c)
        r = c.post(path.format(id=backup_id), json=body)
    assert r.status_code == status and message in r.json()["error"]["message"]
    assert r.json()["status"] == status
    assert emulator.store.restore_jobs == {}


def test_a_backup_that_is_not_ready_cannot_be_restored(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """Still Initializing, or failed: 400, and no index is made."""
    emulator = _restorable(start_emulator, clock)
    with http(emulator, name=None) as c:
        backup_id = _backup(c)
        emulator.store.backups[backup_id].ready_at = clock() + 10
        r = c.post(f"/backups/{backup_id}/create-index", json={"name": "copy"})
        assert r.status_code == 400 and "not ready" in r.json()["error"]["message"]
        emulator.store.backups[backup_id].ready_at = clock()
        emulator.store.backups[backup_id].outcome = "InitializationFailed"
        r = c.post(f"/backups/{backup_id}/create-index", json={"name": "copy"})
        assert r.status_code == 400 and "failed" in r.json()["error"]["message"]
    assert "copy" not in emulator.store.indexes


def test_jobs_page_and_leave_out_those_whose_index_is_gone(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """`limit` and `paginationToken` page the jobs; deleting a restored index hides its job
    from the list and from describe (404), as SDK 10 warns the server does."""
    emulator = _restorable(start_emulator, clock)
    with http(emulator, name=None) as c:
        backup_id = _backup(c)
        jobs = [
            c.post(f"/backups/{backup_id}/create-index", json={"name": f"copy-{i}"}).json()
            for i in range(3)
        ]
        first = c.get("/restore-jobs", params={"limit": 2}).json()
        assert len(first["data"]) == 2 and first["pagination"]["next"]
        rest = c.get("/restore-jobs", params={"paginationToken": first["pagination"]["next"]})
        assert len(rest.json()["data"]) == 1 and "pagination" not in rest.json()
        assert c.get("/restore-jobs", params={"limit": 101}).status_code == 400
        assert c.get("/restore-jobs", params={"paginationToken": "bad"}).status_code == 400
        clock.advance(1.0)
        assert c.delete("/indexes/copy-0").status_code == 202
        listed = {j["restore_job_id"] for j in c.get("/restore-jobs").json()["data"]}
        assert listed == {j["restore_job_id"] for j in jobs[1:]}
        r = c.get(f"/restore-jobs/{jobs[0]['restore_job_id']}")
        assert r.status_code == 404
        assert r.json()["error"]["message"] == f"Restore job {jobs[0]['restore_job_id']} not found."


def test_a_backup_with_a_pending_restore_cannot_be_deleted(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """412 FAILED_PRECONDITION naming the pending job, as the spec's example; 202 once done."""
    emulator = _restorable(start_emulator, clock)
    with http(emulator, name=None) as c:
        backup_id = _backup(c)
        job = c.post(f"/backups/{backup_id}/create-index", json={"name": "copy"}).json()
        r = c.delete(f"/backups/{backup_id}")
        assert r.status_code == 412
        assert r.json()["error"] == {
            "code": "FAILED_PRECONDITION",
            "message": "Unable to delete backup. There are pending restore jobs for this "
            f"backup: ['{job['restore_job_id']}']",
        }
        clock.advance(1.0)
        assert c.delete(f"/backups/{backup_id}").status_code == 202


def test_restore_jobs_and_restored_indexes_survive_a_restart(tmp_path: Path) -> None:
    config = EmulatorConfig(
        limits="off",
        indexes=(("idx", 4),),
        data_dir=tmp_path,
        backup_min_age_s=0,
        backup_ready_ms=0,
        restore_ready_ms=0,
    )
    with Emulator.start(config) as first:
        first.upsert("idx", "a", [("r1", vec(1), {})])
        with http(first, name=None) as c:
            backup_id = _backup(c)
            job = c.post(f"/backups/{backup_id}/create-index", json={"name": "copy"}).json()
    with Emulator.start(config) as second, http(second, name=None) as c:
        described = c.get(f"/restore-jobs/{job['restore_job_id']}").json()
        assert described["status"] == "Completed"
        assert "r1" in second.records("copy", "a")
        assert second.store.indexes["copy"].info.source_backup_id == backup_id


def test_the_sdk_restores_and_follows_the_job(start_emulator: StartEmulator) -> None:
    """`pc.create_index_from_backup` (blocking and with timeout=-1), `pc.restore_jobs.list`
    and `.describe`, and the SDK's typed errors for a missing backup, a taken name, a
    missing job and a backup with a pending restore."""
    emulator = start_emulator(
        indexes=(("idx", 4),), backup_min_age_s=0, backup_ready_ms=0, restore_ready_ms=0
    )
    emulator.upsert("idx", "a", [("r1", vec(1), {"k": "v"})])
    pc = sdk(emulator)
    backup = pc.backups.create(index_name="idx", name="b1")
    restored = pc.create_index_from_backup(name="copy", backup_id=backup.backup_id)
    assert isinstance(restored, IndexModel)
    assert restored.status.ready and restored.name == "copy"
    started = pc.create_index_from_backup(name="copy-2", backup_id=backup.backup_id, timeout=-1)
    job = pc.restore_jobs.describe(job_id=started.restore_job_id)
    assert (job.status, job.target_index_name, job.target_index_id) == (
        "Completed",
        "copy-2",
        started.index_id,
    )
    assert job.percent_complete == 100.0
    assert {j.target_index_name for j in pc.restore_jobs.list()} == {"copy", "copy-2"}
    assert emulator.records("copy-2", "a")["r1"].metadata == {"k": "v"}
    with pytest.raises(NotFoundError):
        pc.create_index_from_backup(name="other", backup_id="nope", timeout=-1)
    with pytest.raises(ConflictError):
        pc.create_index_from_backup(name="copy", backup_id=backup.backup_id, timeout=-1)
    with pytest.raises(NotFoundError):
        pc.restore_jobs.describe(job_id="nope")
    slow = start_emulator(
        indexes=(("idx", 4),), backup_min_age_s=0, backup_ready_ms=0, restore_ready_ms=60_000
    )
    slow.upsert("idx", "a", [("r1", vec(1), {})])
    pc_slow = sdk(slow)
    slow_backup = pc_slow.backups.create(index_name="idx", name="b")
    pc_slow.create_index_from_backup(name="copy", backup_id=slow_backup.backup_id, timeout=-1)
    with pytest.raises(FailedPreconditionError):
        pc_slow.backups.delete(backup_id=slow_backup.backup_id)
