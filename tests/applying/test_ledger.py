"""The erasure ledger after clean, failed, refused and repeated applies, from the CLI."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from retention.applying.ledger import Ledger, LedgerError, ledger_path
from retention.emulator import Emulator, EmulatorConfig
from tests.applying.ledger_rows import (
    check_consistent,
    check_records_every_erasure,
    digest,
    rows,
)
from tests.applying.world import cli, fresh_index, pointed_at, snapshot
from tests.builders import policy, seed, ttl_rule, write_policies

DAY = 86_400
SECRET_IDS = ("user-secret-4711#msg-1", "user-secret-4711#msg-2")
NS = ("tenant-a", "tenant-b")


@pytest.fixture(scope="module")
def live() -> Iterator[Emulator]:
    with Emulator.start(EmulatorConfig(limits="off")) as emulator, pointed_at(emulator):
        yield emulator


def world(emulator: Emulator, work: Path) -> tuple[str, Path]:
    """Two tenants: old and new records, and two records of one user to erase by ID."""
    index = fresh_index(emulator, "ledger")
    now = time.time()
    data = {
        ns: {f"{ns}-{i:03d}": {"created_at": int(now - (i % 40 + 0.5) * DAY)} for i in range(120)}
        for ns in NS
    }
    data["tenant-a"].update({i: {"created_at": int(now)} for i in SECRET_IDS})
    seed(emulator, index, data)
    docs = [
        policy(
            "tickets",
            index,
            ["tenant-*"],
            [ttl_rule("expire", "30d"), {"name": "erase-user", "ids": list(SECRET_IDS)}],
        )
    ]
    return index, write_policies(work / "policies", docs)


def test_a_clean_apply_is_recorded_whole(
    live: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_RUN_ID", "build-981")
    index, policies = world(live, tmp_path)
    before = snapshot(live, index, NS)
    ledger, report = tmp_path / "ledger.sqlite", tmp_path / "report.json"
    code, out, err = cli(
        "apply", str(policies), "--auto-approve", "--ledger", str(ledger), "--report", str(report)
    )
    assert code == 0, out + err
    told = json.loads(report.read_text())
    check_consistent(ledger)

    [run] = rows(ledger, "SELECT * FROM runs JOIN run_ends ON run_ends.run_id = runs.id")
    assert run["run"] == told["ledgerRun"]
    assert (run["plan"], run["command"], run["actor"]) == (told["plan"], "apply", "ci:build-981")
    assert run["outcome"] == "applied" and run["deleted"] == told["deleted"] > 0
    assert json.loads(run["policies"]) == ["tickets"]
    assert run["policy_digest"].startswith("sha256:")

    ends = rows(
        ledger,
        "SELECT a.action, a.kind, a.planned, e.deleted, e.status, e.request_ids, v.verified "
        "FROM actions a JOIN action_ends e ON e.action_id = a.id "
        "JOIN verifications v ON v.action_id = a.id",
    )
    by_id = {r["action"]: r for r in ends}
    for action in told["actions"]:
        row = by_id[action["id"]]
        assert (row["deleted"], row["status"]) == (action["deleted"], "done")
        assert row["verified"] == action["verifiedRecords"] == action["deleted"]
        assert json.loads(row["request_ids"]) == action["requestIds"]

    after = snapshot(live, index, NS)
    gone = {i for ns in NS for i in before[ns] - after[ns]}
    assert set(SECRET_IDS) <= gone
    # Only the ID deletions are held by digest, and the answer of their batch is there.
    assert {r["id_sha256"] for r in rows(ledger, "SELECT id_sha256 FROM erased_ids")} == {
        digest(i) for i in SECRET_IDS
    }
    check_records_every_erasure(ledger, gone & set(SECRET_IDS))
    [batch] = rows(ledger, "SELECT * FROM id_batches JOIN id_batch_ends ON batch_id = id")
    assert batch["ids"] == 2 and batch["request_id"] and batch["lsn"] is not None


def test_no_id_and_no_prefix_is_kept_in_the_clear(live: Emulator, tmp_path: Path) -> None:
    index, _ = world(live, tmp_path)
    docs = [
        policy("erase", index, ["tenant-a"], [{"name": "user", "idPrefix": "user-secret-4711#"}])
    ]
    policies = write_policies(tmp_path / "prefix", docs)
    ledger = tmp_path / "ledger.sqlite"
    code, out, err = cli("apply", str(policies), "--auto-approve", "--ledger", str(ledger))
    assert code == 0, out + err
    assert "2 records deleted" in out
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.sqlite*"))
    assert b"user-secret-4711" not in stored
    [selection] = rows(ledger, "SELECT selection FROM actions")
    assert json.loads(selection["selection"])["idSource"]["type"] == "prefix"


def test_a_guard_that_trips_is_recorded_as_failed(live: Emulator, tmp_path: Path) -> None:
    index, policies = world(live, tmp_path)
    before = snapshot(live, index, NS)
    ledger = tmp_path / "ledger.sqlite"
    code, out, err = cli(
        "apply", str(policies), "--auto-approve", "--ledger", str(ledger), "--max-records", "1"
    )
    assert code == 1, out + err
    check_consistent(ledger)
    [run] = rows(ledger, "SELECT outcome, deleted FROM run_ends")
    assert run["outcome"] == "failed"
    statuses = rows(ledger, "SELECT status, deleted, error FROM action_ends")
    assert statuses and any(r["status"] == "failed" and r["error"] for r in statuses)
    assert run["deleted"] == sum(r["deleted"] for r in statuses)
    gone = {i for ns in NS for i in before[ns] - snapshot(live, index, NS)[ns]}
    check_records_every_erasure(ledger, gone & set(SECRET_IDS))


def test_a_refused_plan_is_recorded_with_its_reason(live: Emulator, tmp_path: Path) -> None:
    _, policies = world(live, tmp_path)
    planfile, ledger = tmp_path / "plan.json", tmp_path / "ledger.sqlite"
    code, out, err = cli(
        "plan", str(policies), "--out", str(planfile), "--at", "2020-01-01T00:00:00Z"
    )
    assert code == 0, out + err
    code, out, err = cli("apply", str(planfile), str(policies), "--ledger", str(ledger))
    assert code == 1 and "the plan is stale" in err
    [run] = rows(ledger, "SELECT outcome, deleted, error FROM run_ends")
    assert (
        run["outcome"] == "refused" and run["deleted"] == 0 and "the plan is stale" in run["error"]
    )
    assert rows(ledger, "SELECT COUNT(*) AS n FROM actions") == [{"n": 0}]


def test_a_plan_applied_twice_is_two_runs(live: Emulator, tmp_path: Path) -> None:
    _, policies = world(live, tmp_path)
    planfile, ledger = tmp_path / "plan.json", tmp_path / "ledger.sqlite"
    assert cli("plan", str(policies), "--out", str(planfile))[0] == 0
    for _ in range(2):
        code, out, err = cli("apply", str(planfile), str(policies), "--ledger", str(ledger))
        assert code == 0, out + err
    outcomes = rows(ledger, "SELECT r.plan, e.outcome FROM runs r JOIN run_ends e ON run_id = r.id")
    assert [o["outcome"] for o in outcomes] == ["applied", "applied-earlier"]
    assert len({o["plan"] for o in outcomes}) == 1


def test_the_ledger_refuses_changes(tmp_path: Path) -> None:
    Ledger.open(tmp_path / "l.sqlite").close()
    db = sqlite3.connect(tmp_path / "l.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM meta")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE meta SET value = 'x'")


@pytest.mark.parametrize("kind", ["text", "sqlite", "directory", "fifo"])
def test_a_ledger_path_that_is_no_ledger_deletes_nothing(
    live: Emulator, tmp_path: Path, kind: str
) -> None:
    index, policies = world(live, tmp_path)
    before = snapshot(live, index, NS)
    path = tmp_path / "ledger"
    if kind == "text":
        path.write_text("not a database\n" * 100)
    elif kind == "sqlite":
        sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    elif kind == "directory":
        path.mkdir()
    else:
        import os

        os.mkfifo(path)
    code, _, err = cli("apply", str(policies), "--auto-approve", "--ledger", str(path))
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith("retention: error:") and str(path) in line, err
    assert snapshot(live, index, NS) == before


def test_an_unwritable_state_directory_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LedgerError, match=r"cannot open the ledger .*: Not a directory"):
        Ledger.open(blocker / "sub" / "ledger.sqlite")
    with pytest.raises(LedgerError, match=r"cannot create the state directory .*give --ledger"):
        ledger_path(None, blocker / "sub")
